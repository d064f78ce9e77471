//! install.sh against a throwaway $HOME: rc blocks are added once, removed
//! exactly, and never written without consent.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BEGIN: &str = "# >>> caro >>>";
const END: &str = "# <<< caro <<<";

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("create temp dir");
        fs::create_dir(dir.path().join("home")).expect("create home");
        Sandbox { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn prefix(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn installed_bin(&self) -> PathBuf {
        self.prefix().join("bin").join("caro")
    }

    fn rc(&self, shell: &str) -> PathBuf {
        match shell {
            "zsh" => self.home().join(".zshrc"),
            "bash" => self.home().join(".bashrc"),
            "fish" => self.home().join(".config/fish/config.fish"),
            other => panic!("no rc file for {other}"),
        }
    }

    fn write_rc(&self, shell: &str, content: &[u8]) {
        let rc = self.rc(shell);
        if let Some(parent) = rc.parent() {
            fs::create_dir_all(parent).expect("create rc dir");
        }
        fs::write(&rc, content).expect("write rc");
    }

    fn read_rc(&self, shell: &str) -> Vec<u8> {
        fs::read(self.rc(shell)).expect("read rc")
    }

    /// Runs install.sh with stdin from /dev/null (so: not interactive),
    /// $SHELL set to `login_shell` and the prefix inside the sandbox.
    fn run(&self, login_shell: &str, args: &[&str]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh");
        Command::new("sh")
            .arg(script)
            .arg("--prefix")
            .arg(self.prefix())
            .args(args)
            .env("HOME", self.home())
            .env("SHELL", login_shell)
            .env("TMPDIR", self.dir.path())
            .env_remove("CARGO_INSTALL_ROOT")
            .env_remove("ZDOTDIR")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("CARO_KEY")
            .env_remove("CARO_MODEL")
            .env_remove("CARO_CONFIG")
            .stdin(Stdio::null())
            .output()
            .expect("run install.sh")
    }

    fn install(&self, login_shell: &str, extra: &[&str]) -> Output {
        let mut args = vec!["--no-build", "--bin", env!("CARGO_BIN_EXE_caro")];
        args.extend_from_slice(extra);
        let out = self.run(login_shell, &args);
        assert_success(&out, "install");
        out
    }
}

fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn count(haystack: &[u8], needle: &str) -> usize {
    String::from_utf8_lossy(haystack).matches(needle).count()
}

const ORIGINAL: &[u8] = b"# my settings\nexport EDITOR=vi\nalias ll='ls -l'\n\n";

#[test]
fn block_is_added_once() {
    for (shell, login) in [
        ("zsh", "/usr/bin/zsh"),
        ("bash", "/bin/bash"),
        ("fish", "/usr/bin/fish"),
    ] {
        let sb = Sandbox::new();
        sb.write_rc(shell, ORIGINAL);
        sb.install(login, &["--yes"]);
        sb.install(login, &["--yes"]);

        let rc = sb.read_rc(shell);
        assert_eq!(
            count(&rc, BEGIN),
            1,
            "{shell}: {}",
            String::from_utf8_lossy(&rc)
        );
        assert_eq!(count(&rc, END), 1, "{shell}");
        assert!(
            rc.starts_with(ORIGINAL),
            "{shell}: the user's lines come first"
        );
        let text = String::from_utf8_lossy(&rc);
        let bin = sb.installed_bin();
        assert!(
            text.contains(&format!("{}' init {shell}", bin.display())),
            "{shell}: {text}"
        );
        assert!(bin.is_file(), "{shell}: binary installed");
    }
}

#[test]
fn shell_comes_from_dollar_shell_or_flag() {
    let sb = Sandbox::new();
    sb.install("/usr/local/bin/bash", &["--yes"]);
    assert_eq!(count(&sb.read_rc("bash"), BEGIN), 1);
    assert!(!sb.rc("zsh").exists());

    sb.install("/usr/local/bin/bash", &["--yes", "--shell", "zsh,fish"]);
    assert_eq!(count(&sb.read_rc("zsh"), BEGIN), 1);
    assert_eq!(count(&sb.read_rc("fish"), BEGIN), 1);
    assert_eq!(count(&sb.read_rc("bash"), BEGIN), 1);
}

#[test]
fn uninstall_leaves_the_rest_byte_identical() {
    let originals: [&[u8]; 4] = [
        ORIGINAL,
        b"",
        b"no newline at the end",
        b"tabs\tand \xe2\x80\x94 unicode\r\nand CRLF\r\n",
    ];
    for shell in ["zsh", "bash", "fish"] {
        for original in originals {
            let sb = Sandbox::new();
            sb.write_rc(shell, original);
            sb.install("/bin/sh", &["--yes", "--shell", shell]);
            assert_ne!(sb.read_rc(shell), original, "{shell}: block added");

            let out = sb.run("/bin/sh", &["--uninstall", "--yes"]);
            assert_success(&out, "uninstall");
            assert_eq!(
                sb.read_rc(shell),
                original,
                "{shell}: rc differs after uninstall"
            );
            assert!(!sb.installed_bin().exists(), "{shell}: binary removed");
        }
    }
}

#[test]
fn uninstall_keeps_lines_added_after_the_block() {
    let sb = Sandbox::new();
    sb.write_rc("zsh", ORIGINAL);
    sb.install("/usr/bin/zsh", &["--yes"]);
    let mut rc = sb.read_rc("zsh");
    rc.extend_from_slice(b"export LATER=1\n");
    sb.write_rc("zsh", &rc);

    assert_success(
        &sb.run("/usr/bin/zsh", &["--uninstall", "--yes"]),
        "uninstall",
    );
    let mut expected = ORIGINAL.to_vec();
    expected.extend_from_slice(b"export LATER=1\n");
    assert_eq!(sb.read_rc("zsh"), expected);
}

#[test]
fn non_interactive_without_yes_only_prints() {
    for (shell, login) in [
        ("zsh", "/usr/bin/zsh"),
        ("bash", "/bin/bash"),
        ("fish", "/usr/bin/fish"),
    ] {
        let sb = Sandbox::new();
        if shell != "fish" {
            sb.write_rc(shell, ORIGINAL);
        }
        let out = sb.install(login, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("init {shell}")),
            "{shell}: {stdout}"
        );
        assert!(stdout.contains("--yes"), "{shell}: says how to allow it");
        if shell == "fish" {
            assert!(!sb.rc(shell).exists(), "fish config created");
        } else {
            assert_eq!(sb.read_rc(shell), ORIGINAL, "{shell}: rc changed");
        }
    }

    // Uninstalling without consent leaves the block too.
    let sb = Sandbox::new();
    sb.write_rc("zsh", ORIGINAL);
    sb.install("/usr/bin/zsh", &["--yes"]);
    let before = sb.read_rc("zsh");
    assert_success(&sb.run("/usr/bin/zsh", &["--uninstall"]), "uninstall");
    assert_eq!(sb.read_rc("zsh"), before);
}

#[test]
fn no_rc_prints_the_line_and_mentions_the_model() {
    let sb = Sandbox::new();
    sb.write_rc("zsh", ORIGINAL);
    let out = sb.install("/usr/bin/zsh", &["--no-rc", "--yes"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("init zsh"), "{stdout}");
    assert!(stdout.contains("caro model pull"), "{stdout}");
    assert_eq!(sb.read_rc("zsh"), ORIGINAL);
}

#[test]
fn a_model_at_the_default_path_is_found() {
    let sb = Sandbox::new();
    let file = caro::settings::default_model_file();
    let models = sb.home().join(".cache/caro/models");
    fs::create_dir_all(&models).expect("create models dir");
    fs::write(models.join(file), b"weights").expect("write model");
    let out = sb.install("/usr/bin/zsh", &["--no-rc", "--yes"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("Model found at {}", models.join(file).display())),
        "{stdout}"
    );
    assert!(!stdout.contains("caro model pull"), "{stdout}");
}

#[test]
fn refuses_unknown_shell_and_broken_block() {
    let sb = Sandbox::new();
    let out = sb.run(
        "/bin/tcsh",
        &["--no-build", "--bin", env!("CARGO_BIN_EXE_caro"), "--yes"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--shell"));

    let broken = format!("x=1\n{BEGIN}\nhalf a block\n");
    sb.write_rc("zsh", broken.as_bytes());
    let out = sb.run(
        "/usr/bin/zsh",
        &["--no-build", "--bin", env!("CARGO_BIN_EXE_caro"), "--yes"],
    );
    assert!(!out.status.success());
    assert_eq!(sb.read_rc("zsh"), broken.as_bytes());
}

#[test]
fn installs_the_binary_without_debug_information() {
    let has_debug_info = |p: &Path| elf_sections(p).iter().any(|s| s == ".debug_info");
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("strip").is_file()));
    if !on_path {
        eprintln!("SKIPPED: strip is not installed, so install.sh copies the binary as it is");
        return;
    }
    let source = Path::new(env!("CARGO_BIN_EXE_caro"));
    assert!(has_debug_info(source), "the test build carries debug info");
    let sb = Sandbox::new();
    sb.install("/usr/bin/zsh", &["--no-rc"]);
    let installed = sb.installed_bin();
    assert!(!has_debug_info(&installed), "installed with debug info");
    let size = |p: &Path| fs::metadata(p).expect("metadata").len();
    assert!(size(&installed) < size(source));
    let out = Command::new(&installed)
        .arg("--version")
        .output()
        .expect("run installed caro");
    assert_success(&out, "installed caro --version");
}

/// Section names of a 64-bit little-endian ELF file.
fn elf_sections(path: &Path) -> Vec<String> {
    let b = fs::read(path).expect("read binary");
    assert_eq!(
        &b[..6],
        b"\x7fELF\x02\x01",
        "{}: not ELF64 LE",
        path.display()
    );
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes")) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes")) as usize;
    let (shoff, shentsize, shnum, shstrndx) =
        (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let header = |i: usize| shoff + i * shentsize;
    let names = u64_at(header(shstrndx) + 0x18);
    (0..shnum)
        .map(|i| {
            let start = names + u32_at(header(i));
            let end = start + b[start..].iter().position(|&c| c == 0).unwrap_or(0);
            String::from_utf8_lossy(&b[start..end]).into_owned()
        })
        .collect()
}
