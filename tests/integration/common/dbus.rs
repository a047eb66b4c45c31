//! A private D-Bus session bus for tests of the desktop's services.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A private session bus (`dbus-run-session`) that lives as long as the
/// returned child (its standard input open), and its address.
pub fn session_bus() -> (Child, String) {
    session_bus_with(&[])
}

/// As [`session_bus`], with `env` in the environment of the services the
/// bus starts on demand.
pub fn session_bus_with(env: &[(String, String)]) -> (Child, String) {
    start(Command::new("dbus-run-session").envs(env.iter().cloned()))
}

/// A private session bus that starts no services on demand: the desktop's
/// own (a real portal, say) cannot take a name a test's fake serves.
pub fn session_bus_without_services(config_dir: &std::path::Path) -> (Child, String) {
    let config = config_dir.join("session-no-services.conf");
    std::fs::write(
        &config,
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
    )
    .expect("write a bus configuration");
    start(Command::new("dbus-run-session").arg(format!("--config-file={}", config.display())))
}

fn start(command: &mut Command) -> (Child, String) {
    let mut child = command
        .args([
            "--",
            "sh",
            "-c",
            "echo \"$DBUS_SESSION_BUS_ADDRESS\"; exec cat",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dbus-run-session");
    let mut address = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut address)
        .unwrap();
    (child, address.trim().to_owned())
}
