# shellcheck shell=bash
# Finds a JDK 25 or newer and exports JAVA_HOME to it.
# Sourced by ./foliofs and scripts/test; defines functions only, changes nothing else.
#
#   source scripts/find-jdk.sh
#   foliofs_find_jdk || exit 1
#
# Order: $JAVA_HOME when its java is 25+, else the newest 25+ JDK under /usr/lib/jvm
# (FOLIOFS_JVM_DIR overrides that directory, for tests of this script).

FOLIOFS_MIN_JAVA=25

# Prints the feature (major) version of the java binary $1, or nothing when it can't be run.
# Handles both "25.0.3" and the old "1.8.0_412" numbering.
foliofs_java_major() {
    local java=$1 line version
    [[ -x $java ]] || return 1
    line=$("$java" -version 2>&1 | grep -m1 -E 'version "') || return 1
    version=${line#*version \"}
    version=${version%%\"*}
    if [[ $version == 1.* ]]; then
        version=${version#1.}
    fi
    version=${version%%[.+-]*}
    [[ $version =~ ^[0-9]+$ ]] || return 1
    printf '%s\n' "$version"
}

foliofs_find_jdk() {
    local major
    if [[ -n ${JAVA_HOME:-} ]]; then
        major=$(foliofs_java_major "$JAVA_HOME/bin/java") || major=0
        if (( major >= FOLIOFS_MIN_JAVA )); then
            export JAVA_HOME
            return 0
        fi
    fi

    local dir best="" best_major=0 candidate real
    local -A seen=()
    for dir in "${FOLIOFS_JVM_DIR:-/usr/lib/jvm}"/*/; do
        candidate=${dir%/}
        [[ -x $candidate/bin/java && -x $candidate/bin/javac ]] || continue
        real=$(readlink -f "$candidate") || real=$candidate
        [[ -n ${seen[$real]:-} ]] && continue
        seen[$real]=1
        major=$(foliofs_java_major "$candidate/bin/java") || continue
        if (( major >= FOLIOFS_MIN_JAVA && major > best_major )); then
            best=$candidate
            best_major=$major
        fi
    done

    if [[ -n $best ]]; then
        export JAVA_HOME=$best
        return 0
    fi

    echo "foliofs needs JDK ${FOLIOFS_MIN_JAVA} or newer; install e.g. Temurin ${FOLIOFS_MIN_JAVA} (apt install temurin-${FOLIOFS_MIN_JAVA}-jdk) or set JAVA_HOME" >&2
    return 1
}
