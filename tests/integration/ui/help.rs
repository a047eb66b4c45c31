//! Help and feedback: *About Timecard*, *Show log folder* and *Upload now*
//! each tell the user something.

use super::*;

// Item 13: Help had no About; it shows the version, the data folder, the
// server and the shortcuts.
#[test]
fn about_names_version_data_folder_server_and_shortcuts() {
    let mut w = open();
    w.click("Help");
    w.click("About Timecard");
    w.harness.step();
    w.harness.get_by_label("About Timecard");
    w.harness
        .get_by_label(&format!("Timecard {}", env!("CARGO_PKG_VERSION")));
    w.harness
        .get_by_label("none: the built-in local server (this computer only)");
    w.harness.get_by_label("Ctrl+Enter  Start or stop tracking");
    // Where screenshots and activity come from in this session, and why.
    w.harness.get_by_label("Screenshots");
    w.harness.get_by_label("Activity");
    assert_eq!(
        w.harness.query_all_by_label_contains(", because ").count(),
        2
    );
    w.click("Close");
    assert!(w.harness.query_by_label("About Timecard").is_none());
}

// Item 13: Show log folder failed silently where no file manager exists;
// it says where the logs are either way.
#[test]
fn show_log_folder_says_where_the_logs_are() {
    let mut w = open();
    w.click("Help");
    w.click("Show log folder");
    w.until("a notice with the path", |app| {
        app.latest()
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("the logs are in") || n.contains("The logs are in"))
    });
}

// Item 13: Upload now gave no feedback.
#[test]
fn upload_now_says_what_it_does() {
    let mut w = open();
    w.click("Cache");
    w.click("Upload now");
    w.until("a notice", |app| {
        app.latest().notice.as_deref()
            == Some("Nothing to upload: every tracked second is on the server.")
    });
}

// Issue 15: Settings say where screenshots and activity come from in this
// session, and why, as About does.
#[test]
fn settings_say_where_screenshots_and_activity_come_from() {
    let mut w = open();
    w.click("Settings");
    w.harness.step();
    for said in ["Screenshots come from ", "Activity comes from "] {
        let found = w.harness.query_all_by_label_contains(said).count();
        assert_eq!(found, 1, "{said}");
    }
    assert_eq!(
        w.harness.query_all_by_label_contains(", because ").count(),
        2
    );
}
