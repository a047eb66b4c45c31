//! Y7 in the window: a self-signed server is trusted on first use by its
//! fingerprint, and a certificate that changes afterwards is refused in
//! words, against a real TLS server on loopback.

use super::*;
use timecard_client::sync::SyncState;

/// The server's certificate, as `serve` prints it.
pub(crate) fn printed(server: &common::server::TestServer) -> String {
    timecard_core::tls::fingerprint(&server.server.cert_pem).unwrap()
}

fn press_sign_in(w: &mut Window) {
    // A modal is laid out over a few frames (it sizes itself to the form).
    for _ in 0..4 {
        w.harness.step();
    }
    w.harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Sign in")
        .click();
    w.harness.step();
}

fn asked(app: &TimecardApp) -> Option<timecard::ui::TrustQuestion> {
    app.state.signin.as_ref()?.question.clone()
}

// Y7: the dialog shows the fingerprint `serve` printed and asks; Cancel
// goes back to the form, Trust signs in and pins exactly that
// certificate; a new certificate afterwards is refused by sync in words,
// shown in the window, and the next sign-in asks again with both prints.
#[test]
fn a_self_signed_server_is_trusted_by_its_fingerprint_and_a_new_one_refused() {
    let mut server = common::server::TestServer::start(at("2026-11-25T15:00:00Z"));
    let print = printed(&server);
    let mut w = open();
    w.click("Settings");
    w.click("Use my organisation's server…");
    w.harness.state_mut().state.signin = Some(timecard::ui::SignInForm {
        server: server.url(),
        login: "ann".into(),
        password: common::server::PASSWORD.into(),
        ..Default::default()
    });
    w.harness.step();
    w.harness.step();
    press_sign_in(&mut w);
    w.until("the question", |app| asked(app).is_some());
    let question = asked(w.harness.state()).unwrap();
    assert_eq!(question.presented.to_string(), print);
    assert_eq!(question.previous, None);
    w.harness.get_by_label("Trust this server?");
    // The fingerprint in two halves of 16 pairs, as `serve` wrote them.
    let (first, second) = print["SHA256:".len()..].split_at(16 * 3);
    w.harness.get_by_label_contains(&format!(
        "SHA256:\n{}\n{second}",
        first.trim_end_matches(':')
    ));
    assert!(
        w.harness.query_by_label_contains("UnknownIssuer").is_none(),
        "no rustls names in the window"
    );
    assert!(
        w.harness.state().engine().unwrap().connection.is_builtin(),
        "nothing is trusted before the answer"
    );

    // Cancel: back to the form, still on the built-in server.
    w.click("Cancel");
    assert!(asked(w.harness.state()).is_none());
    assert!(w.harness.state().state.signin.is_some(), "the form stays");
    w.harness.get_by_label("Certificate file");

    press_sign_in(&mut w);
    w.until("the question again", |app| asked(app).is_some());
    w.click("Trust");
    w.until("the server's contracts", |app| {
        app.latest()
            .contracts
            .iter()
            .any(|c| c.contract.id == "ann-hourly")
    });
    let data = DataDir::at(w._dir.path().join("data")).unwrap();
    let known = std::fs::read_to_string(data.known_servers_file()).unwrap();
    assert!(known.contains(&print), "{known}");
    let saved = Settings::load(&data.settings_file()).unwrap();
    assert_eq!(saved.server_ca, None, "no certificate file was needed");
    assert_eq!(saved.server.as_deref(), Some(server.url().as_str()));

    // The administrator replaces the certificate: sync refuses it.
    server.replace_certificate();
    let now_print = printed(&server);
    assert_ne!(now_print, print);
    let words = format!(
        "The server's certificate changed since you trusted it (was {print}, now {now_print}). If your administrator replaced it, sign in again to trust the new one."
    );
    w.until("sync refuses the new certificate", |app| {
        matches!(&app.latest().sync.state, SyncState::Caching { last_error, .. } if last_error.contains(&words))
    });
    w.click("Tracker");
    // The status line with both prints, and the notice at the top.
    w.harness.get_by_label_contains(&words);
    w.harness.get_by_label(
        "The server's certificate changed since you trusted it: nothing is sent to it, time is cached here.",
    );
    // Signing in again (offered beside the words) asks, naming both; the
    // form comes filled with the server and the login.
    w.click("Sign in again…");
    let form = w.harness.state().state.signin.clone().expect("the form");
    assert_eq!(
        (form.server.as_str(), form.login.as_str()),
        (server.url().as_str(), "ann")
    );
    w.harness
        .state_mut()
        .state
        .signin
        .as_mut()
        .unwrap()
        .password = common::server::PASSWORD.into();
    press_sign_in(&mut w);
    w.until("the question for the new certificate", |app| {
        asked(app).is_some()
    });
    let question = asked(w.harness.state()).unwrap();
    assert_eq!(question.presented.to_string(), now_print);
    assert_eq!(question.previous.map(|p| p.to_string()), Some(print));
    assert!(
        w.harness
            .query_all_by_label_contains("changed since you trusted it (it was")
            .next()
            .is_some(),
        "the dialog says the certificate changed"
    );
    w.click("Trust");
    w.until("online with the new certificate", |app| {
        matches!(app.latest().sync.state, SyncState::Online) && app.state.signin.is_none()
    });
}
