//! lava's ssh family, the built-in `ssh` component, end to end: a key in
//! moto's SSM (stored on one line, line breaks as commas, as lava's are),
//! and the real `ssh`, `scp` and `git` logging in to a real `sshd` on
//! loopback through the stand-ins the host writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use lava_conn::{ConnectorHost, Job};
use lava_conn_tests::test_config;
use lava_test_moto::Moto;
use serde_json::json;

/// An `sshd` of Debian's `openssh-server` on a free loopback port, taking
/// one user key, with its host key and configuration in a scratch folder.
struct Server {
    port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Server {
    /// `None` when sshd is not installed (`apt-get install openssh-server`),
    /// which fails instead under `LAVA_CONN_REQUIRE_CLIENTS` (CI).
    fn start() -> Option<Server> {
        let sshd = Path::new("/usr/sbin/sshd");
        if !sshd.is_file() {
            assert!(std::env::var_os("LAVA_CONN_REQUIRE_CLIENTS").is_none(), "sshd is not installed");
            return None;
        }
        if unsafe { libc::geteuid() } == 0 {
            // Its privilege separation folder, which the package's service would make.
            std::fs::create_dir_all("/run/sshd").unwrap();
        }
        let dir = lava_test_moto::tempdir();
        for key in ["host", "user"] {
            let made = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", key, "-f"])
                .arg(dir.path().join(key))
                .status()
                .unwrap();
            assert!(made.success());
        }
        std::fs::copy(dir.path().join("user.pub"), dir.path().join("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let option = |name: &str, value: &Path| format!("{name}={}", value.display());
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f", "/dev/null", "-o", &format!("Port={port}"), "-o", "ListenAddress=127.0.0.1"])
            .args(["-o", &option("HostKey", &dir.path().join("host"))])
            .args(["-o", &option("AuthorizedKeysFile", &dir.path().join("authorized_keys"))])
            .args(["-o", "StrictModes=no", "-o", "PidFile=none", "-o", "UsePAM=no", "-o", "PasswordAuthentication=no"])
            .args(["-o", "Subsystem=sftp internal-sftp"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("sshd.log")).unwrap())
            .spawn()
            .unwrap();
        let server = Server { port, child, dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(server.dir.path().join("sshd.log")).unwrap_or_default();
        panic!("sshd did not start on port {port}: {log}");
    }

    /// The user key as lava stores it in SSM: one line, line breaks as commas.
    fn key_as_lava_stores_it(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("user")).unwrap().trim_end().replace('\n', ",")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn user() -> String {
    String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap().trim().to_string()
}

/// Run a stand-in with the job's environment, in `workdir`.
fn run(env: &lava_conn::JobEnvironment, label: &str, args: &[&str], workdir: &Path) -> String {
    let var = format!("LAVA_CONN_{label}");
    let script = env.vars.iter().find(|(k, _)| *k == var).map(|(_, v)| PathBuf::from(v)).expect(&var);
    let out = env.apply(Command::new(&script).args(args)).current_dir(workdir).output().unwrap();
    assert!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_ssh_scp_and_git_log_in_to_a_real_sshd_with_the_key_read_from_ssm() {
    let Some(server) = Server::start() else { return };
    let moto = Moto::start(
        &json!({"parameters": [{"name": "/lava/prod/deploy/key", "value": server.key_as_lava_stores_it()}]}),
    );
    let options =
        json!(["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "BatchMode=yes", "LogLevel=ERROR"]);
    let specs: Vec<_> = ["ssh", "scp", "git"]
        .iter()
        .map(|t| {
            json!({"conn_id": format!("deploy-{t}"), "type": t, "enabled": true,
                        "ssh_key": "/lava/prod/deploy/key", "ssh_options": options})
        })
        .collect();
    let folder = lava_test_moto::tempdir();
    std::fs::write(folder.path().join("specs.json"), json!(specs).to_string()).unwrap();
    let sdk = lava_conn::configure_sdk(moto.sdk_loader()).load().await;
    let host = ConnectorHost::builder()
        .config(test_config())
        .backend(lava_conn::SdkBackend::new(sdk))
        .store(Arc::new(lava_conn::FolderStore::open(folder.path()).unwrap()))
        .build()
        .unwrap();
    let workdir = lava_test_moto::tempdir();
    let labels: BTreeMap<String, String> =
        ["ssh", "scp", "git"].iter().map(|t| (t.to_string(), format!("deploy-{t}"))).collect();
    let job = Job { realm: "prod".into(), job_id: "j1".into() };
    let env = host.prepare_job(&job, &labels, workdir.path()).await.unwrap();
    let port = server.port.to_string();
    let at = format!("{}@127.0.0.1", user());

    let said = run(&env, "SSH", &["-p", &port, &at, "echo logged in as $(id -un)"], workdir.path());
    assert_eq!(said.trim(), format!("logged in as {}", user()));

    let served = server.dir.path().join("served.txt");
    std::fs::write(&served, "copied over scp\n").unwrap();
    run(&env, "SCP", &["-P", &port, &format!("{at}:{}", served.display()), "got.txt"], workdir.path());
    assert_eq!(std::fs::read_to_string(workdir.path().join("got.txt")).unwrap(), "copied over scp\n");

    let repo = server.dir.path().join("repo.git");
    assert!(Command::new("git").args(["init", "-q", "--bare"]).arg(&repo).status().unwrap().success());
    let url = format!("ssh://{at}:{port}{}", repo.display());
    run(&env, "GIT", &["clone", "-q", &url, "clone"], workdir.path());
    assert!(workdir.path().join("clone/.git").is_dir(), "git cloned over ssh with the key");
    env.cleanup().unwrap();
}
