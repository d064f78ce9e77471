//! Firewalls and the security services that run them: turning one off exposes the
//! machine. Implements D5 (security switched off) of docs/safety.md, else C3 (a service
//! or rule changed).

use crate::safety::Level::{Caution, Dangerous};
use crate::safety::args::Arg;
use crate::safety::engine::{Engine, Inv};
use crate::syntax::wrappers::skip_options;

const FIREWALL_UNITS: &[&str] = &[
    "firewalld",
    "ufw",
    "iptables",
    "ip6tables",
    "nftables",
    "netfilter-persistent",
    "shorewall",
    "csf",
    "pf",
];

/// Services that enforce security policy or watch for intrusions.
const SECURITY_UNITS: &[&str] = &["apparmor", "auditd", "fail2ban", "selinux", "crowdsec"];

/// The unit's name and what kind of protection it is, if stopping it exposes the machine.
fn protective_unit(name: &str) -> Option<(&str, &'static str)> {
    let unit = name.strip_suffix(".service").unwrap_or(name);
    if FIREWALL_UNITS.contains(&unit) {
        Some((unit, "firewall"))
    } else if SECURITY_UNITS.contains(&unit) {
        Some((unit, "security service"))
    } else {
        None
    }
}

pub(crate) fn ufw(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let words: Vec<&str> = inv
        .rest()
        .iter()
        .map(|a| a.text.as_str())
        .filter(|t| !t.starts_with("--"))
        .collect();
    if inv.rest().iter().any(|a| a.is("--dry-run")) {
        return;
    }
    match words.first().copied() {
        Some("disable") => eng.note(Dangerous, "turns off the firewall"),
        Some("reset") => eng.note(
            Dangerous,
            "deletes every firewall rule and turns the firewall off",
        ),
        Some("default")
            if words.contains(&"allow")
                && !words.contains(&"outgoing")
                && !words.contains(&"routed") =>
        {
            eng.note(Dangerous, "lets all incoming traffic through the firewall");
        }
        Some("status" | "show" | "app" | "version") | None => {}
        Some(_) => eng.note(Caution, "changes firewall rules"),
    }
}

pub(crate) fn iptables(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let short_has = |a: &Arg<'_>, c: char| {
        a.text.starts_with('-') && !a.text.starts_with("--") && a.text.contains(c)
    };
    let args = inv.rest();
    if inv.name().ends_with("-save") {
        return;
    }
    if args.iter().any(|a| a.is("--flush") || short_has(a, 'F')) {
        eng.note(
            Dangerous,
            "flushes the firewall rules, leaving the machine unprotected",
        );
        return;
    }
    let lists = args
        .iter()
        .any(|a| a.is("--list") || a.is("--list-rules") || short_has(a, 'L') || short_has(a, 'S'));
    if lists
        && !args
            .iter()
            .any(|a| short_has(a, 'A') || short_has(a, 'I') || short_has(a, 'D'))
    {
        return;
    }
    let policy = args.iter().any(|a| a.is("-P") || a.is("--policy"));
    if policy && args.iter().any(|a| a.is("ACCEPT")) {
        // Accepting by default on the incoming chains lets every connection in.
        if args.iter().any(|a| a.is("INPUT") || a.is("FORWARD")) {
            eng.note(
                Dangerous,
                "lets every incoming connection through the firewall (policy ACCEPT)",
            );
        } else {
            eng.note(Caution, "sets a firewall default policy to ACCEPT");
        }
    }
    eng.note(Caution, "changes firewall rules");
}

pub(crate) fn nft(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let words: Vec<&str> = inv.rest().iter().map(|a| a.text.as_str()).collect();
    let text = words.join(" ");
    if text.contains("flush ruleset") {
        eng.note(Dangerous, "flushes every firewall rule");
    } else if words.contains(&"flush") || words.contains(&"delete") {
        eng.note(Caution, "removes firewall rules");
    } else if !words.contains(&"list") {
        eng.note(Caution, "changes firewall rules");
    }
}

pub(crate) fn pfctl(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let args = inv.rest();
    if args.iter().any(|a| a.is("-d")) {
        eng.note(Dangerous, "turns off the pf firewall");
    } else if args.iter().any(|a| a.is("-F")) {
        eng.note(Dangerous, "flushes the pf firewall rules");
    } else if !args.iter().any(|a| a.text.starts_with("-s")) {
        eng.note(Caution, "changes the pf firewall");
    }
}

pub(crate) fn firewall_cmd(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let args = inv.rest();
    if args.iter().any(|a| a.is("--set-default-zone=trusted")) {
        eng.note(
            Dangerous,
            "trusts all traffic, which turns the firewall off",
        );
    } else if !args
        .iter()
        .all(|a| a.text.starts_with("--list") || a.text.starts_with("--get") || a.is("--state"))
    {
        eng.note(Caution, "changes firewall rules");
    }
}

pub(crate) fn systemctl(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let start = skip_options(
        inv.args,
        1,
        "HMtpnos",
        &[
            "host",
            "machine",
            "type",
            "state",
            "property",
            "lines",
            "output",
            "signal",
            "kill-whom",
        ],
    );
    let action = inv
        .args
        .get(start)
        .map(|a| a.text.as_str())
        .unwrap_or_default();
    let units = inv.args.get(start + 1..).unwrap_or_default();
    service_action(eng, action, units.iter().map(|a| a.text.as_str()));
}

/// `service NAME ACTION` and `/etc/init.d/NAME ACTION`.
pub(crate) fn service(eng: &mut Engine, unit: &str, action: &str) {
    service_action(eng, action, std::iter::once(unit));
}

fn service_action<'a>(eng: &mut Engine, action: &str, units: impl Iterator<Item = &'a str>) {
    const READ: &[&str] = &[
        "status",
        "show",
        "list-units",
        "list-unit-files",
        "cat",
        "is-active",
        "is-enabled",
        "is-failed",
        "list-timers",
        "list-sockets",
        "list-dependencies",
        "help",
        "--status-all",
        "",
    ];
    const STOPS: &[&str] = &[
        "stop", "disable", "mask", "kill", "off", "remove", "teardown",
    ];
    if READ.contains(&action) {
        return;
    }
    let units: Vec<&str> = units.collect();
    if matches!(
        action,
        "reboot" | "poweroff" | "halt" | "kexec" | "suspend" | "hibernate"
    ) {
        // `--force` skips stopping services cleanly (twice: skips even unmounting).
        if units.iter().any(|u| *u == "--force" || *u == "-f") {
            eng.note(Dangerous, super::system::FORCED_POWER);
        } else {
            eng.note(Caution, "reboots or powers off the machine");
        }
        return;
    }
    if STOPS.contains(&action)
        && let Some((unit, kind)) = units.iter().find_map(|u| protective_unit(u))
    {
        eng.note(
            Dangerous,
            format!("stops the {unit} {kind}, leaving the machine unprotected"),
        );
        return;
    }
    eng.note(Caution, "changes system services");
}

pub(crate) fn service_cmd(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let args = inv.rest();
    match (args.first(), args.get(1)) {
        (Some(unit), Some(action)) => service(eng, &unit.text, &action.text),
        (Some(only), None) => service(eng, "", &only.text),
        _ => {}
    }
}

/// `chkconfig iptables off`, `update-rc.d ufw disable`.
pub(crate) fn boot_services(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let args = inv.rest();
    let unit = args.iter().find_map(|a| protective_unit(&a.text));
    let off = args
        .iter()
        .any(|a| matches!(a.text.as_str(), "off" | "disable" | "remove" | "--del"));
    match unit {
        Some((unit, kind)) if off => {
            eng.note(Dangerous, format!("keeps the {unit} {kind} from starting"))
        }
        _ => eng.note(Caution, "changes which services start at boot"),
    }
}
