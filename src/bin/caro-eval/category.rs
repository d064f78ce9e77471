//! The area of a case, for per-category figures: fixed by the first program of the
//! case's first reference (`caro::syntax::first_program`, which sees through `sudo`,
//! `env` and the like), looked up in [`AREAS`]. A program in no area is `other`.
//!
//! | area               | programs                                                    |
//! |--------------------|-------------------------------------------------------------|
//! | files/find         | find, ls, locate, tree, stat, file, cp, mv, rm, mkdir, ln…  |
//! | text/grep-sed-awk  | grep, sed, awk, cut, sort, uniq, wc, head, tail, cat, echo… |
//! | archives           | tar, gzip, zip, unzip, zcat, xz, bzip2, cpio…               |
//! | disk usage         | du, df, ncdu, lsblk, fdisk, mount                           |
//! | permissions        | chmod, chown, chgrp, umask, setfacl, getfacl                |
//! | processes          | ps, top, kill, pkill, pgrep, pidof, nice, nohup, lsof…      |
//! | networking         | curl, wget, ping, ssh, scp, rsync, ip, ss, netstat, dig…    |
//! | git                | git                                                         |
//! | system info        | uname, uptime, whoami, id, who, date, nproc, free, env…     |
//!
//! `echo`, `printf`, `seq` and `yes` count as text: they start text pipelines.

/// The areas in report order; `other` last.
pub const NAMES: &[&str] = &[
    "files/find",
    "text/grep-sed-awk",
    "archives",
    "disk usage",
    "permissions",
    "processes",
    "networking",
    "git",
    "system info",
    "other",
];

/// Area, programs.
const AREAS: &[(&str, &[&str])] = &[
    (
        "files/find",
        &[
            "find", "ls", "locate", "tree", "stat", "file", "cp", "mv", "rm", "rmdir", "mkdir",
            "touch", "ln", "basename", "dirname", "realpath", "readlink", "pwd", "cd", "rename",
            "install", "fd", "exa", "dir",
        ],
    ),
    (
        "text/grep-sed-awk",
        &[
            "grep",
            "egrep",
            "fgrep",
            "rg",
            "sed",
            "awk",
            "gawk",
            "cut",
            "sort",
            "uniq",
            "wc",
            "head",
            "tail",
            "cat",
            "tac",
            "nl",
            "tr",
            "paste",
            "comm",
            "diff",
            "rev",
            "od",
            "xxd",
            "hexdump",
            "column",
            "join",
            "split",
            "fold",
            "fmt",
            "less",
            "more",
            "tee",
            "echo",
            "printf",
            "seq",
            "yes",
            "base64",
            "md5sum",
            "sha1sum",
            "sha256sum",
            "sha512sum",
            "cmp",
            "strings",
            "iconv",
            "jq",
            "expand",
            "shuf",
        ],
    ),
    (
        "archives",
        &[
            "tar", "gzip", "gunzip", "zcat", "zgrep", "zip", "unzip", "bzip2", "bunzip2", "xz",
            "unxz", "7z", "cpio", "zless",
        ],
    ),
    (
        "disk usage",
        &["du", "df", "ncdu", "lsblk", "fdisk", "mount", "findmnt"],
    ),
    (
        "permissions",
        &["chmod", "chown", "chgrp", "umask", "setfacl", "getfacl"],
    ),
    (
        "processes",
        &[
            "ps", "top", "htop", "kill", "pkill", "killall", "pgrep", "pidof", "nice", "renice",
            "nohup", "jobs", "lsof", "watch", "fuser",
        ],
    ),
    (
        "networking",
        &[
            "curl",
            "wget",
            "ping",
            "ssh",
            "scp",
            "sftp",
            "rsync",
            "ip",
            "ifconfig",
            "ss",
            "netstat",
            "dig",
            "nslookup",
            "host",
            "nc",
            "traceroute",
            "nmap",
        ],
    ),
    ("git", &["git"]),
    (
        "system info",
        &[
            "uname",
            "uptime",
            "whoami",
            "id",
            "who",
            "w",
            "last",
            "hostname",
            "date",
            "cal",
            "nproc",
            "free",
            "lscpu",
            "sysctl",
            "locale",
            "ulimit",
            "dmesg",
            "env",
            "printenv",
            "lsb_release",
            "dpkg",
            "apt",
            "apt-cache",
            "history",
            "vmstat",
            "groups",
            "users",
        ],
    ),
];

/// The area of a case whose first reference is `first_reference`.
pub fn of(first_reference: &str) -> &'static str {
    let Some(program) = caro::syntax::first_program(first_reference) else {
        return "other";
    };
    AREAS
        .iter()
        .find(|(_, programs)| programs.contains(&program.as_str()))
        .map_or("other", |(area, _)| area)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_follow_the_first_program() {
        assert_eq!(of("find . -name '*.txt' | xargs wc -l"), "files/find");
        assert_eq!(of("sudo ls -la"), "files/find");
        assert_eq!(of("cat f | grep x"), "text/grep-sed-awk");
        assert_eq!(of("echo $HOME"), "text/grep-sed-awk");
        assert_eq!(of("tar czf a.tgz dir"), "archives");
        assert_eq!(of("du -sh ."), "disk usage");
        assert_eq!(of("chmod 644 f"), "permissions");
        assert_eq!(of("ps aux | grep x"), "processes");
        assert_eq!(of("curl -I https://example.com"), "networking");
        assert_eq!(of("git status"), "git");
        assert_eq!(of("uname -r"), "system info");
        assert_eq!(of("openssl version"), "other");
        assert_eq!(of(""), "other");
    }

    #[test]
    fn every_area_is_named_once_in_report_order() {
        let areas: Vec<&str> = AREAS.iter().map(|(a, _)| *a).collect();
        assert_eq!(areas, NAMES[..NAMES.len() - 1]);
        let mut all: Vec<&str> = AREAS.iter().flat_map(|(_, p)| p.iter().copied()).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a program in two areas");
    }
}
