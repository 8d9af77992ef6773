//! A small disk that can be filled and freed: a tmpfs of a few hundred KiB mounted in a
//! private mount namespace (`unshare --user --map-root-user --mount`, so no root is needed
//! where unprivileged user namespaces are allowed), kept alive by a holder process and
//! reached from outside through `/proc/HOLDER/root`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct SmallDisk {
    holder: Child,
    root: PathBuf,
    /// Where it is mounted, inside its namespace.
    mount: PathBuf,
}

impl SmallDisk {
    /// A tmpfs of `kib` KiB over `dir` (an empty folder), seen only by the holder.
    pub fn new(dir: &Path, kib: u32) -> SmallDisk {
        std::fs::create_dir_all(dir).unwrap();
        let script = format!(
            "mount -t tmpfs -o size={kib}k drumbeat-test {} && echo ready && exec sleep 3600",
            dir.display()
        );
        let mut holder = Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare (util-linux) runs");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim() != "ready" {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(holder.stderr.as_mut().unwrap(), &mut err);
            panic!(
                "a small tmpfs could not be mounted in a user namespace ({err}); these specs \
                 need unprivileged user namespaces (or root)"
            );
        }
        let root = PathBuf::from(format!("/proc/{}/root", holder.id()))
            .join(dir.strip_prefix("/").expect("an absolute folder"));
        SmallDisk {
            holder,
            root,
            mount: dir.to_path_buf(),
        }
    }

    /// The folder on the small disk, as this process reaches it for plain file work.
    /// (SQLite resolves the `/proc/PID/root` link and would miss the disk: open stores on
    /// it from [`SmallDisk::drumbeat`].)
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// A `drumbeat` command that runs inside the disk's namespace, where the disk is
    /// mounted over the folder given to [`SmallDisk::new`]; the tests' clean environment.
    pub fn drumbeat(&self) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["--target", &self.holder.id().to_string()])
            .args(["--user", "--mount", "--preserve-credentials", "--"])
            .arg(env!("CARGO_BIN_EXE_drumbeat"));
        super::clean(&mut cmd);
        cmd
    }

    /// Takes every free byte.
    pub fn fill(&self) {
        let mut filler = std::fs::File::create(self.root.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while filler.write_all(&block).is_ok() {}
        // The last partial block too.
        while filler.write_all(&[0]).is_ok() {}
    }

    /// Makes the disk read-only, as media that cannot be written.
    pub fn read_only(&self) {
        let done = Command::new("nsenter")
            .args(["--target", &self.holder.id().to_string()])
            .args(["--user", "--mount", "--preserve-credentials", "--"])
            .args(["mount", "-o", "remount,ro"])
            .arg(&self.mount)
            .status()
            .expect("nsenter runs");
        assert!(done.success(), "the small disk could not be made read-only");
    }

    /// Gives the space back.
    pub fn free(&self) {
        std::fs::remove_file(self.root.join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
