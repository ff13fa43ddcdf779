package org.foliofs.cli;

import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The {@code foliofs} command. Errors from commands print {@code foliofs: <message>} on stderr
 * and exit 1; stack traces only with {@code FOLIOFS_DEBUG=1}. Usage errors exit 2.
 */
@Command(name = "foliofs",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "FolioFS, a Linux-style storage stack on the JVM.",
        subcommands = {BenchCommand.class, DeviceInfoCommand.class, FsckCommand.class, MkfsCommand.class, MountCommand.class,
                IoCommand.class, LsCommand.class, CatCommand.class, CpCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    /** No subcommand given: show the usage on stderr and fail as a usage error. */
    @Override
    public Integer call() {
        CommandLine cmd = spec.commandLine();
        cmd.usage(cmd.getErr());
        return spec.exitCodeOnInvalidInput();
    }

    public static void main(String[] args) {
        System.exit(commandLine("1".equals(System.getenv("FOLIOFS_DEBUG"))).execute(args));
    }

    /** The configured command line; {@code debug} adds stack traces to error messages. */
    static CommandLine commandLine(boolean debug) {
        CommandLine cmd = new CommandLine(new Main());
        cmd.setCaseInsensitiveEnumValuesAllowed(true);
        cmd.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            err.println("foliofs: " + describe(ex));
            if (debug) {
                ex.printStackTrace(err);
            }
            err.flush();
            return 1;
        });
        cmd.setParameterExceptionHandler((ex, args) -> {
            CommandLine where = ex.getCommandLine();
            PrintWriter err = where.getErr();
            err.println("foliofs: " + ex.getMessage());
            if (debug) {
                ex.printStackTrace(err);
            }
            err.println("Try '" + where.getCommandSpec().qualifiedName() + " --help' for more information.");
            err.flush();
            return where.getCommandSpec().exitCodeOnInvalidInput();
        });
        return cmd;
    }

    /** A one-line message for a failure, without the exception's class name where possible. */
    static String describe(Throwable t) {
        switch (t) {
            case FileSystemException e when e.getFile() != null && e.getReason() != null -> {
                return e.getFile() + ": " + e.getReason();
            }
            case NoSuchFileException e -> {
                return "no such file or directory: " + e.getFile();
            }
            case AccessDeniedException e -> {
                return "permission denied: " + e.getFile();
            }
            case FileAlreadyExistsException e -> {
                return "already exists: " + e.getFile();
            }
            case NotDirectoryException e -> {
                return "not a directory: " + e.getFile();
            }
            default -> {
                String message = t.getMessage();
                if (message != null && !message.isBlank()) {
                    return message;
                }
                if (t.getCause() != null && t.getCause() != t) {
                    return describe(t.getCause());
                }
                return t.getClass().getSimpleName();
            }
        }
    }

    /** The version from the jar manifest (Implementation-Version), "dev" when run from classes. */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {
                "foliofs " + (v == null ? "dev" : v),
                "Java " + Runtime.version() + " (" + System.getProperty("java.vm.name") + ")"
            };
        }
    }
}
