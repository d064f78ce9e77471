//! Per-command rules, chosen by the command's name once wrappers are peeled off.

pub(crate) mod data;
pub(crate) mod disk;
pub(crate) mod files;
pub(crate) mod firewall;
pub(crate) mod packages;
pub(crate) mod rewrite;
pub(crate) mod security;
pub(crate) mod system;
pub(crate) mod vcs;

use super::Level::Caution;
use super::args::command_name;
use super::engine::{Engine, Inv};

pub(crate) fn check(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let Some(first) = inv.args.first() else {
        return;
    };
    if first.text.starts_with("/etc/init.d/") || first.text.starts_with("/etc/rc.d/") {
        let action = inv
            .rest()
            .first()
            .map(|a| a.text.as_str())
            .unwrap_or_default();
        firewall::service(eng, command_name(&first.text), action);
        return;
    }
    disk::kernel_memory(eng, inv);
    match inv.name() {
        "rm" | "unlink" | "srm" => files::rm(eng, inv),
        "rmdir" => eng.note(Caution, "removes empty directories"),
        "trash" | "trash-put" | "gio" => eng.note(Caution, "moves files to the trash"),
        "shred" | "wipe" => files::shred(eng, inv),
        "mv" => files::mv(eng, inv),
        "cp" | "install" => files::cp(eng, inv),
        "rsync" => files::rsync(eng, inv),
        "ln" => files::ln(eng, inv),
        "chmod" => files::chmod(eng, inv),
        "chown" | "chgrp" => files::chown(eng, inv),
        "truncate" => files::truncate(eng, inv),
        "tee" => files::tee(eng, inv),
        "sed" => rewrite::sed(eng, inv),
        name if rewrite::is_compressor(name) => rewrite::compress(eng, inv),
        "dd" => disk::dd(eng, inv),
        "wipefs" => disk::wipefs(eng, inv),
        "blkdiscard" => disk::blkdiscard(eng, inv),
        "fdisk" | "gdisk" | "cfdisk" | "sfdisk" | "sgdisk" | "parted" => disk::partition(eng, inv),
        "hdparm" => disk::hdparm(eng, inv),
        "diskutil" => disk::diskutil(eng, inv),
        "cryptsetup" => disk::cryptsetup(eng, inv),
        "zpool" | "zfs" | "lvremove" | "vgremove" | "pvremove" => disk::volumes(eng, inv),
        name if disk::is_mkfs(name) => disk::mkfs(eng, inv),
        "kill" => system::kill(eng, inv),
        "pkill" | "killall" | "killall5" => system::pkill(eng, inv),
        "shutdown" | "reboot" | "halt" | "poweroff" | "init" | "telinit" => system::power(eng, inv),
        "ufw" => firewall::ufw(eng, inv),
        "iptables" | "ip6tables" | "iptables-legacy" | "ip6tables-legacy" | "iptables-nft"
        | "ip6tables-nft" | "ebtables" | "arptables" | "iptables-restore" | "iptables-save" => {
            firewall::iptables(eng, inv);
        }
        "nft" => firewall::nft(eng, inv),
        "pfctl" => firewall::pfctl(eng, inv),
        "firewall-cmd" => firewall::firewall_cmd(eng, inv),
        "systemctl" => firewall::systemctl(eng, inv),
        "service" => firewall::service_cmd(eng, inv),
        "chkconfig" | "update-rc.d" => firewall::boot_services(eng, inv),
        "setenforce" => security::setenforce(eng, inv),
        "aa-teardown" | "aa-disable" | "aa-complain" => security::apparmor(eng, inv),
        "passwd" | "usermod" => security::password(eng, inv),
        "chpasswd" => security::chpasswd(eng, inv),
        "sysctl" => security::sysctl(eng, inv),
        "journalctl" => system::journalctl(eng, inv),
        "gpg" | "gpg2" => security::gpg(eng, inv),
        "socat" => crate::safety::network::upload_stdin(eng, inv),
        "badblocks" | "nvme" => disk::disk_tools(eng, inv),
        "crontab" => system::crontab(eng, inv),
        "history" => system::history(eng, inv),
        "set" => system::set(eng, inv),
        "userdel" | "deluser" => eng.note(Caution, "deletes a user account"),
        "tar" | "unzip" | "7z" => files::extract(eng, inv),
        "umount" => system::umount(eng, inv),
        // Without operands `mount` only lists what is mounted.
        "mount" if !inv.rest().is_empty() => eng.note(Caution, "mounts or unmounts a filesystem"),
        "chattr" => eng.note(Caution, "changes file attributes"),
        name if packages::is_package_manager(name) => packages::packages(eng, inv),
        "git" => vcs::git(eng, inv),
        "psql" | "mysql" | "mariadb" | "sqlite3" | "redis-cli" | "mongo" | "mongosh" | "dropdb"
        | "clickhouse-client" => data::database(eng, inv),
        "docker" | "podman" => data::containers(eng, inv),
        "kubectl" => data::kubectl(eng, inv),
        "terraform" | "tofu" => data::terraform(eng, inv),
        _ => {}
    }
}
