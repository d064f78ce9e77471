//! Commands that write disks, filesystems and partition tables directly, and anything
//! that reads or writes kernel memory.
//!
//! Implements D6 (raw devices and kernel interfaces) of docs/safety.md, else C2 (an
//! image file written).

use crate::safety::Level::{Caution, Dangerous};
use crate::safety::args::Arg;
use crate::safety::engine::{Engine, Inv};
use crate::safety::paths::{Class, Scope};

pub(crate) fn is_mkfs(name: &str) -> bool {
    name.starts_with("mkfs")
        || name.starts_with("newfs")
        || matches!(
            name,
            "mke2fs"
                | "mkswap"
                | "mkdosfs"
                | "mkntfs"
                | "mkexfatfs"
                | "mkudffs"
                | "mkreiserfs"
                | "mkjfs"
        )
}

/// First operand that names a disk device, for messages.
fn device(eng: &Engine, inv: &Inv<'_, '_>) -> Option<String> {
    inv.rest().iter().find_map(|a| {
        let info = eng.classify(a);
        (info.scope == Scope::Device).then_some(info.shown)
    })
}

/// Commands that only look at a path's metadata, never its contents.
const METADATA_ONLY: &[&str] = &["ls", "stat", "file", "test", "[", "lsblk", "df", "du"];

/// Any command that opens `/dev/mem`, `/dev/kmem`, `/dev/port` or `/proc/kcore`
/// (`cat`, `dd if=`, `hexdump`, `strings`, a `<` redirection): reading them exposes
/// every secret in memory, writing them crashes the machine.
pub(crate) fn kernel_memory(eng: &mut Engine, inv: &Inv<'_, '_>) {
    if METADATA_ONLY.contains(&inv.name()) {
        return;
    }
    let named = inv.rest().iter().map(|a| {
        let text = a.text.as_str();
        text.strip_prefix("if=")
            .or_else(|| text.strip_prefix("of="))
            .unwrap_or(text)
            .to_string()
    });
    let redirected = inv.input.file.iter().cloned();
    // Programs that copy out the bytes of whatever they are given.
    let copies_out = matches!(
        inv.name(),
        "cat"
            | "pv"
            | "head"
            | "tail"
            | "xxd"
            | "hexdump"
            | "od"
            | "strings"
            | "gzip"
            | "xz"
            | "zstd"
            | "base64"
    );
    for path in named.chain(redirected) {
        // C2, as `dd if=/dev/sda`: a whole disk copied out.
        if path.starts_with("/dev/") && (copies_out || inv.input.file.as_deref() == Some(&path)) {
            let info = eng.classify(&Arg::synthetic(path.clone()));
            if info.scope == Scope::Device {
                eng.note(Caution, format!("copies the raw device {}", info.shown));
            }
        }
        // Cheap test first: the check runs on every command.
        if !(path.contains("mem") || path.contains("port") || path.contains("kcore")) {
            continue;
        }
        let info = eng.classify(&Arg::synthetic(path));
        if info.scope == Scope::KernelMemory {
            eng.note(
                Dangerous,
                format!(
                    "reads or writes {}, exposing secrets or crashing the machine",
                    info.describe()
                ),
            );
        }
    }
}

/// `badblocks -w` overwrites the whole disk with test patterns; `nvme format` and
/// `nvme sanitize` erase it.
pub(crate) fn disk_tools(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let args = inv.rest();
    let erases = match inv.name() {
        "badblocks" => args
            .iter()
            .any(|a| a.text.starts_with('-') && !a.text.starts_with("--") && a.text.contains('w')),
        _ => args
            .first()
            .is_some_and(|a| matches!(a.text.as_str(), "format" | "sanitize")),
    };
    if erases {
        let dev = device(eng, inv).unwrap_or_else(|| "a disk".into());
        eng.note(Dangerous, format!("erases everything on {dev}"));
    }
}

/// Implements D6 (a disk written), D1 (a system file overwritten), S2 (a file of the
/// project), else C2.
pub(crate) fn dd(eng: &mut Engine, inv: &Inv<'_, '_>) {
    // C2: a whole disk copied into a file is the user's own backup, but a large and
    // privileged read; memory devices are judged by `kernel_memory`.
    for arg in inv.rest() {
        if let Some(path) = arg.text.strip_prefix("if=") {
            let info = eng.classify(&arg.derived(path));
            if info.scope == Scope::Device {
                eng.note(Caution, format!("copies the raw device {}", info.shown));
            }
        }
    }
    for arg in inv.rest() {
        let Some(path) = arg.text.strip_prefix("of=") else {
            continue;
        };
        let info = eng.classify(&arg.derived(path));
        let what = info.describe();
        match info.scope {
            Scope::Sink => {}
            Scope::Device => eng.note(
                Dangerous,
                info.qualify(format!(
                    "writes raw data over {}, destroying what is on it",
                    info.shown
                )),
            ),
            Scope::History => eng.note(Dangerous, "overwrites your shell history"),
            Scope::SystemFile | Scope::Credentials | Scope::Logs => {
                eng.note(Dangerous, info.qualify(format!("overwrites {what}")))
            }
            // A stand-in for every file `find` matched under a system or home directory.
            _ if info.about.is_some() && matches!(info.class(), Class::System | Class::Home) => {
                eng.note(Dangerous, format!("overwrites {what}"));
            }
            // dd cannot write a directory; what remains is an ordinary file, routine in
            // the project (S2).
            _ if info.routine_place() => {}
            _ => eng.note(Caution, format!("writes {}", info.shown)),
        }
    }
}

/// Implements D6 (a disk formatted), S2 (an image file in the project), else C2.
pub(crate) fn mkfs(eng: &mut Engine, inv: &Inv<'_, '_>) {
    if let Some(dev) = device(eng, inv) {
        eng.note(
            Dangerous,
            format!("formats {dev}, erasing everything on it"),
        );
        return;
    }
    // Without a device operand the target is an image or swap file, unless it is
    // hidden in a variable that could name a disk.
    let image = inv.rest().iter().rev().find(|a| !a.text.starts_with('-'));
    match image.map(|file| eng.classify(file)) {
        Some(info) if info.scope != Scope::Variable && !info.if_empty => {
            // S2: an image file of the project.
            if !info.routine_place() {
                eng.note(Caution, format!("creates a filesystem in {}", info.shown));
            }
        }
        _ => eng.note(Dangerous, "formats a disk, erasing everything on it"),
    }
}

/// Implements D6 (a disk erased or rewritten), else C3.
pub(crate) fn wipefs(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let erases = inv.rest().iter().any(|a| {
        a.is("--all")
            || a.text.starts_with("--offset")
            || (a.text.starts_with('-') && !a.text.starts_with("--") && a.text.contains(['a', 'o']))
    });
    if !erases {
        return;
    }
    match device(eng, inv) {
        Some(dev) => eng.note(
            Dangerous,
            format!("erases the filesystem signatures on {dev}"),
        ),
        None => eng.note(Caution, "erases filesystem signatures"),
    }
}

/// Implements D6 (a disk erased or rewritten), else C3.
pub(crate) fn blkdiscard(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let dev = device(eng, inv).unwrap_or_else(|| "a disk".into());
    eng.note(
        Dangerous,
        format!("discards every block on {dev}, erasing it"),
    );
}

/// `fdisk`, `gdisk`, `sfdisk`, `sgdisk`, `parted`, `cfdisk`.
/// Implements D6 (a disk erased or rewritten), else C3.
pub(crate) fn partition(eng: &mut Engine, inv: &Inv<'_, '_>) {
    const READ_ONLY: &[&str] = &[
        "-l",
        "--list",
        "-d",
        "--dump",
        "-s",
        "--show-size",
        "-V",
        "--verify",
        "-J",
        "--json",
        "-p",
        "--print",
        "-i",
        "--info",
        "print",
        "-v",
        "--version",
        "-h",
        "--help",
    ];
    const PARTED_WRITES: &[&str] = &[
        "mklabel",
        "mktable",
        "mkpart",
        "mkpartfs",
        "rm",
        "resizepart",
        "rescue",
    ];
    let args = inv.rest();
    let name = inv.name();
    let Some(dev) = device(eng, inv) else {
        if args
            .iter()
            .all(|a| READ_ONLY.contains(&a.text.as_str()) || !a.text.starts_with('-'))
        {
            return;
        }
        eng.note(Caution, "edits a partition table");
        return;
    };
    let writes = match name {
        "parted" => args
            .iter()
            .any(|a| PARTED_WRITES.contains(&a.text.as_str())),
        "sgdisk" => args
            .iter()
            .any(|a| a.text.starts_with('-') && !READ_ONLY.contains(&a.text.as_str())),
        "sfdisk" => !args.iter().any(|a| READ_ONLY.contains(&a.text.as_str())),
        // Interactive editors only write when fed a script.
        _ => inv.piped() && !args.iter().any(|a| READ_ONLY.contains(&a.text.as_str())),
    };
    if writes {
        eng.note(Dangerous, format!("rewrites the partition table on {dev}"));
    } else if !args.iter().any(|a| READ_ONLY.contains(&a.text.as_str())) {
        eng.note(Caution, format!("opens the partition editor on {dev}"));
    }
}

/// Implements D6 (a disk erased or rewritten), else C3.
pub(crate) fn hdparm(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let erase = inv.rest().iter().any(|a| {
        a.text.starts_with("--security-erase")
            || a.is("--trim-sector-ranges")
            || a.is("--write-sector")
            || a.is("--fwdownload")
    });
    if erase {
        eng.note(Dangerous, "erases or rewrites the disk at a low level");
    } else if inv.rest().iter().any(|a| a.is("-Y") || a.is("-y")) {
        eng.note(Caution, "puts the disk to sleep");
    }
}

/// Implements D6 (a disk erased or rewritten), else C3.
pub(crate) fn diskutil(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let verb = inv
        .rest()
        .iter()
        .find(|a| !a.text.starts_with('-'))
        .map(|a| a.text.to_ascii_lowercase())
        .unwrap_or_default();
    match verb.as_str() {
        "erasedisk" | "erasevolume" | "zerodisk" | "randomdisk" | "secureerase"
        | "partitiondisk" | "reformat" => {
            eng.note(Dangerous, format!("erases a disk (diskutil {verb})"))
        }
        "list" | "info" | "activity" | "listfilesystems" | "" => {}
        _ => eng.note(Caution, format!("changes disks (diskutil {verb})")),
    }
}

/// Implements D6 (a disk erased or rewritten), else C3.
pub(crate) fn cryptsetup(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let destroys = inv.rest().iter().any(|a| {
        matches!(
            a.text.as_str(),
            "luksFormat" | "erase" | "luksErase" | "luksKillSlot" | "reencrypt"
        )
    });
    if destroys {
        eng.note(
            Dangerous,
            "overwrites the disk's encryption header, losing its data",
        );
    } else {
        eng.note(Caution, "changes encrypted volumes");
    }
}

/// ZFS and LVM: destroying a pool, dataset or volume deletes its data.
/// Implements D6 (a disk erased or rewritten), else C3.
pub(crate) fn volumes(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let name = inv.name();
    let verb = inv.rest().iter().find(|a| !a.text.starts_with('-'));
    let destroys = match name {
        "zpool" => verb.is_some_and(|v| v.is("destroy") || v.is("labelclear")),
        "zfs" => verb.is_some_and(|v| v.is("destroy")),
        _ => true,
    };
    if destroys {
        eng.note(
            Dangerous,
            format!("destroys a storage volume and its data ({name})"),
        );
    } else if verb.is_some_and(|v| !matches!(v.text.as_str(), "list" | "status" | "get" | "iostat"))
    {
        eng.note(Caution, format!("changes storage volumes ({name})"));
    }
}
