//! Package managers: routine changes, unless they remove what the system runs on.

use crate::safety::Level::{Caution, Dangerous};
use crate::safety::engine::{Engine, Inv};

const PACKAGE_MANAGERS: &[&str] = &[
    "apt", "apt-get", "aptitude", "dnf", "yum", "zypper", "apk", "pacman", "yay", "paru", "brew",
    "port", "snap", "flatpak", "pkg", "emerge", "nix-env", "pip", "pip3", "pipx", "npm", "pnpm",
    "yarn", "gem", "cargo", "go", "conda", "mamba", "composer", "poetry", "uv", "dpkg", "rpm",
];

pub(crate) fn is_package_manager(name: &str) -> bool {
    PACKAGE_MANAGERS.contains(&name)
}

/// Removing these leaves a machine that cannot boot, log in or install anything.
const ESSENTIAL: &[&str] = &[
    "libc6",
    "glibc",
    "systemd",
    "sudo",
    "apt",
    "dpkg",
    "coreutils",
    "bash",
    "login",
    "passwd",
    "util-linux",
    "rpm",
    "dnf",
    "yum",
    "pacman",
    "linux-image-generic",
    "grub-pc",
    "grub2",
    "openssh-server",
    "python3",
];

pub(crate) fn packages(eng: &mut Engine, inv: &Inv<'_, '_>) {
    const CHANGES: &[&str] = &[
        "install",
        "reinstall",
        "remove",
        "purge",
        "autoremove",
        "upgrade",
        "update",
        "dist-upgrade",
        "full-upgrade",
        "uninstall",
        "add",
        "del",
        "i",
        "rm",
        "erase",
        "un",
        "ci",
        "build-dep",
        "get",
        "unlink",
        "link",
        "sync",
        "refresh",
    ];
    const REMOVES: &[&str] = &[
        "remove",
        "purge",
        "autoremove",
        "erase",
        "uninstall",
        "del",
        "rm",
        "-R",
        "-P",
        "-e",
    ];
    let args = inv.rest();
    let verb = args
        .iter()
        .find(|a| !a.text.starts_with('-'))
        .map(|a| a.text.as_str());
    let flag_verb = args
        .iter()
        .find(|a| a.text.starts_with('-') && !a.text.starts_with("--"));
    let pacman_style = matches!(
        inv.name(),
        "pacman" | "yay" | "paru" | "rpm" | "dpkg" | "nix-env"
    );
    let removes = verb.is_some_and(|v| REMOVES.contains(&v))
        || (pacman_style
            && flag_verb.is_some_and(|f| {
                f.text.starts_with("-R") || f.is("-e") || f.text.starts_with("-P")
            }));
    let os_manager = matches!(
        inv.name(),
        "apt"
            | "apt-get"
            | "aptitude"
            | "dnf"
            | "yum"
            | "zypper"
            | "apk"
            | "pacman"
            | "yay"
            | "paru"
            | "rpm"
            | "dpkg"
    );
    if removes
        && os_manager
        && let Some(pkg) = args.iter().find(|a| ESSENTIAL.contains(&a.text.as_str()))
    {
        eng.note(
            Dangerous,
            format!(
                "removes {}, a package the system cannot run without",
                pkg.text
            ),
        );
        return;
    }
    let changes = removes
        || verb.is_some_and(|v| CHANGES.contains(&v))
        || (pacman_style
            && flag_verb.is_some_and(|f| {
                f.text.starts_with(['-'])
                    && f.text.chars().nth(1).is_some_and(|c| "SURi".contains(c))
            }));
    if changes {
        eng.note(Caution, "installs, removes or upgrades packages");
    }
}
