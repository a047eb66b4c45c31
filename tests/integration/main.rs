//! Timecard's integration tests, one module per feature, in one binary: the
//! real binaries, the real TLS server, a private X server, real files.
//! Helpers shared by the modules are in `common`. It drives Linux programs
//! (Xvfb, Sway, PostgreSQL) and runs on Linux; the Windows binaries are
//! tested from here under Wine (`windows_wine`).
// Reports go to the terminal: this is a harness, not a command.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#![cfg(target_os = "linux")]

mod common;

mod api_tokens;
mod bad_dates;
mod billing;
mod capture_xvfb;
mod cli;
mod crash;
mod data_folder;
mod disputes;
mod fixtures;
mod hardening;
mod hostile;
mod installer_wine;
mod instance_xvfb;
mod mail;
mod migrations;
mod notify_dbus;
mod openapi;
mod packages;
mod portal_dbus;
mod proxy;
mod replicas;
mod reports;
mod reset;
mod security;
mod server_cli;
mod server_deploy;
mod server_image;
mod sign_on;
mod store_contract;
mod stores;
mod sync_e2e;
mod sync_faults;
mod sync_live;
mod tracking;
mod tray_sway;
mod trust;
mod ui;
mod updates;
mod wayland_sway;
mod web;
mod web_reports;
mod web_review;
mod web_transport;
mod webhooks;
mod window_xvfb;
mod windows_wine;
mod worker;
