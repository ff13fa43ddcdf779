package org.foliofs.nio;

import java.util.regex.PatternSyntaxException;

/** Glob to regex for {@link FolioFileSystem#getPathMatcher}: {@code * ** ? [...] {a,b} \}, as the JDK documents them. */
final class Glob {
    private Glob() {}

    static String toRegex(String glob) {
        StringBuilder re = new StringBuilder("^");
        boolean inGroup = false;
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            switch (c) {
                case '\\' -> {
                    if (++i == glob.length()) throw new PatternSyntaxException("no character to escape", glob, i - 1);
                    quote(re, glob.charAt(i));
                }
                case '*' -> {
                    if (i + 1 < glob.length() && glob.charAt(i + 1) == '*') { re.append(".*"); i++; }
                    else re.append("[^/]*");
                }
                case '?' -> re.append("[^/]");
                case '[' -> {
                    int end = glob.indexOf(']', i + 1);
                    if (end < 0) throw new PatternSyntaxException("missing ']'", glob, i);
                    String body = glob.substring(i + 1, end);
                    if (body.contains("/")) throw new PatternSyntaxException("'/' in a bracket expression", glob, i);
                    re.append("[[^/]&&[");
                    if (body.startsWith("!")) { re.append('^'); body = body.substring(1); }
                    for (char b : body.toCharArray()) {
                        if (b == '[' || b == '\\' || b == '&' || b == '^') re.append('\\');
                        re.append(b);
                    }
                    re.append("]]");
                    i = end;
                }
                case '{' -> {
                    if (inGroup) throw new PatternSyntaxException("nested groups are not supported", glob, i);
                    re.append("(?:");
                    inGroup = true;
                }
                case '}' -> {
                    if (!inGroup) { quote(re, c); continue; }
                    re.append(')');
                    inGroup = false;
                }
                case ',' -> {
                    if (inGroup) re.append('|'); else quote(re, c);
                }
                default -> quote(re, c);
            }
        }
        if (inGroup) throw new PatternSyntaxException("missing '}'", glob, glob.length() - 1);
        return re.append('$').toString();
    }

    private static void quote(StringBuilder re, char c) {
        if ("\\^$.|?*+()[]{}".indexOf(c) >= 0) re.append('\\');
        re.append(c);
    }
}
