//! Security controls switched off: SELinux, AppArmor, kernel hardening, passwords, and
//! settings files edited to weaken them.
//!
//! Implements D5 of docs/safety.md: each of these exposes the whole machine, and none
//! of them shows any damage until someone takes advantage of it.

use crate::safety::Level::{Caution, Dangerous};
use crate::safety::engine::{Engine, Inv};
use crate::safety::opts::Opts;
use crate::safety::paths::PathInfo;

/// Settings files of security controls, and the values that switch them off.
const WEAKENINGS: &[(&str, &[&str], &str)] = &[
    (
        "/etc/selinux/config",
        &["selinux=disabled", "selinux=permissive"],
        "turns SELinux off",
    ),
    (
        "/etc/sysconfig/selinux",
        &["selinux=disabled", "selinux=permissive"],
        "turns SELinux off",
    ),
    (
        "/etc/ssh/sshd_config",
        &["permitemptypasswords yes", "permitrootlogin yes"],
        "lets anyone log in over SSH as root or without a password",
    ),
    (
        "/etc/sudoers",
        &["all all=(all) nopasswd", "all all=(all:all) nopasswd"],
        "lets every user run anything as root without a password",
    ),
];

/// `text` written into `info` (by `tee`, a redirection or `sed -i`) weakens a security
/// control: SELinux disabled, empty SSH passwords, ASLR off.
pub(crate) fn written(eng: &mut Engine, info: &PathInfo, text: &str) {
    let Some(abs) = info.abs.as_deref() else {
        return;
    };
    let text = text.to_ascii_lowercase();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for (file, values, why) in WEAKENINGS {
        let covered = abs == *file || abs.starts_with(&format!("{file}.d/"));
        if covered && values.iter().any(|v| text.contains(v)) {
            eng.note(Dangerous, *why);
        }
    }
    if let Some(key) = abs.strip_prefix("/proc/sys/") {
        kernel_setting(eng, &key.replace('/', "."), &text);
    }
}

/// A kernel setting written: dangerous when it turns a protection off.
fn kernel_setting(eng: &mut Engine, key: &str, value: &str) {
    if KERNEL_HARDENING
        .iter()
        .any(|(k, off)| key == *k && value.trim() == *off)
    {
        eng.note(Dangerous, format!("turns off the kernel protection {key}"));
    }
}

/// `setenforce 0`: SELinux stops enforcing until the next boot.
pub(crate) fn setenforce(eng: &mut Engine, inv: &Inv<'_, '_>) {
    if inv
        .rest()
        .iter()
        .any(|a| a.is("0") || a.text.eq_ignore_ascii_case("permissive"))
    {
        eng.note(
            Dangerous,
            "turns off SELinux enforcement for the whole machine",
        );
    }
}

/// `aa-teardown` unloads every AppArmor profile; `aa-disable`/`aa-complain` on all
/// profiles (a glob or the profile directory) do the same one by one.
pub(crate) fn apparmor(eng: &mut Engine, inv: &Inv<'_, '_>) {
    if inv.name() == "aa-teardown" {
        eng.note(Dangerous, "unloads every AppArmor profile");
        return;
    }
    let opts = Opts::parse(inv.rest(), "d", &["dir"]);
    let all = opts.operands.iter().any(|a| {
        let info = eng.classify(a);
        info.many() || info.abs.as_deref() == Some("/etc/apparmor.d")
    });
    if all {
        eng.note(Dangerous, "switches off every AppArmor profile");
    } else {
        eng.note(Caution, "switches off an AppArmor profile");
    }
}

/// `passwd -d user` and `usermod -p ''` leave an account with no password at all.
pub(crate) fn password(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let opts = if inv.name() == "passwd" {
        Opts::parse(
            inv.rest(),
            "nxwir",
            &["mindays", "maxdays", "warndays", "inactive"],
        )
    } else {
        Opts::parse(
            inv.rest(),
            "pgGdsucefR",
            &["password", "home", "shell", "expiredate", "inactive"],
        )
    };
    let user = opts.operands.last().map_or_else(
        || "your account".to_string(),
        |u| format!("account {}", u.shown()),
    );
    let removed = match inv.name() {
        "passwd" => opts.flag('d', "delete"),
        _ => opts
            .value("p")
            .or_else(|| opts.value("password"))
            .is_some_and(|p| p.is_empty()),
    };
    if removed {
        eng.note(
            Dangerous,
            format!("removes the password of {user}, so anyone can log in"),
        );
    } else if opts.flag('l', "lock") || opts.flag('u', "unlock") || opts.flag('e', "expire") {
        eng.note(Caution, format!("changes the login of {user}"));
    }
}

/// Kernel hardening switches and the values that turn them off.
const KERNEL_HARDENING: &[(&str, &str)] = &[
    ("kernel.randomize_va_space", "0"),
    ("kernel.yama.ptrace_scope", "0"),
    ("kernel.kptr_restrict", "0"),
    ("kernel.dmesg_restrict", "0"),
];

/// `sysctl -w kernel.randomize_va_space=0` and its relatives.
pub(crate) fn sysctl(eng: &mut Engine, inv: &Inv<'_, '_>) {
    for arg in inv.rest() {
        let Some((key, value)) = arg.text.split_once('=') else {
            continue;
        };
        kernel_setting(eng, &key.replace('/', "."), value);
    }
}

/// `gpg --delete-secret-keys`: implements D2 (private keys destroyed); deleting public
/// keys only is C2.
pub(crate) fn gpg(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let args = inv.rest();
    if args.iter().any(|a| {
        a.text.starts_with("--delete-secret-key") || a.is("--delete-secret-and-public-key")
    }) {
        eng.note(
            Dangerous,
            "deletes your GPG private keys, which cannot be recreated",
        );
    } else if args.iter().any(|a| a.text.starts_with("--delete-key")) {
        eng.note(Caution, "deletes GPG public keys from your keyring");
    }
}

/// `echo 'root:' | chpasswd`: a `user:` line with nothing after the colon sets an empty
/// password. Implements D5.
pub(crate) fn chpasswd(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let text = inv.input.up.echo.clone().or_else(|| inv.input.text.clone());
    let emptied = text.iter().flat_map(|t| t.lines()).find_map(|line| {
        let (user, password) = line.trim().split_once(':')?;
        password.trim().is_empty().then(|| user.trim().to_string())
    });
    if let Some(user) = emptied {
        eng.note(
            Dangerous,
            format!("removes the password of account {user}, so anyone can log in"),
        );
    } else {
        eng.note(Caution, "changes account passwords");
    }
}
