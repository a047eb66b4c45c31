//! The tray on Windows (D8): an icon in the notification area
//! (`Shell_NotifyIconW`), owned by a hidden window on its own thread with
//! its own message loop, so it answers whether or not the main window
//! draws. The host is the taskbar: adding the icon fails without one, and
//! the taskbar's "TaskbarCreated" message (Explorer started or restarted)
//! adds it again. The menu is a popup menu on a right click; a left click
//! shows the window. Any failure is logged and the window runs on without
//! a tray.

use std::cell::RefCell;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use windows::Win32::Foundation::{HWND, LPARAM, LRESULT, POINT, WPARAM};
use windows::Win32::UI::Shell::{
    NIF_ICON, NIF_MESSAGE, NIF_TIP, NIM_ADD, NIM_DELETE, NIM_MODIFY, NOTIFYICONDATAW,
    Shell_NotifyIconW,
};
use windows::Win32::UI::WindowsAndMessaging::{
    AppendMenuW, CreateIcon, CreatePopupMenu, CreateWindowExW, DefWindowProcW, DestroyIcon,
    DestroyMenu, DestroyWindow, DispatchMessageW, GetCursorPos, GetMessageW, HICON, MF_CHECKED,
    MF_GRAYED, MF_POPUP, MF_SEPARATOR, MF_STRING, MSG, PostMessageW, PostQuitMessage,
    RegisterClassW, RegisterWindowMessageW, SetForegroundWindow, TPM_RETURNCMD, TPM_RIGHTBUTTON,
    TrackPopupMenu, TranslateMessage, WINDOW_EX_STYLE, WM_APP, WM_CLOSE, WM_CONTEXTMENU,
    WM_DESTROY, WM_LBUTTONUP, WM_RBUTTONUP, WNDCLASSW, WS_OVERLAPPED,
};
use windows::core::{PCWSTR, w};

use super::{Backend, Shared, TrayState, TrayView, icon_rgba};

/// The icon's messages to its window.
const WM_TRAY: u32 = WM_APP + 1;
/// A new view to show.
const WM_UPDATE: u32 = WM_APP + 2;

const ID_START_STOP: usize = 1;
const ID_SHOW: usize = 2;
const ID_MINI: usize = 3;
const ID_QUIT: usize = 4;
const ID_CONTRACT: usize = 100;

/// The icon's side in pixels (Windows scales it to the taskbar's size).
const SIZE: u32 = 32;

/// What the window's procedure works with, on the tray's thread only.
struct State {
    shared: Arc<Shared>,
    view: Arc<Mutex<TrayView>>,
    shown: TrayView,
    icon: Option<(TrayState, HICON)>,
    taskbar_created: u32,
    added: bool,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

pub struct Windows {
    /// The hidden window, as an integer (a window handle is not `Send`).
    hwnd: isize,
    view: Arc<Mutex<TrayView>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Backend for Windows {
    fn show(&mut self, view: &TrayView) {
        *self.view.lock().expect("tray view") = view.clone();
        // SAFETY: posting to a window handle is sound even should the
        // window be gone (the call then fails, which changes nothing).
        let _ = unsafe {
            PostMessageW(
                Some(HWND(self.hwnd as *mut _)),
                WM_UPDATE,
                WPARAM(0),
                LPARAM(0),
            )
        };
    }

    fn shutdown(&mut self) {
        // SAFETY: as in `show`.
        let _ = unsafe {
            PostMessageW(
                Some(HWND(self.hwnd as *mut _)),
                WM_CLOSE,
                WPARAM(0),
                LPARAM(0),
            )
        };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Creates the icon on its own thread; `None` (logged) when it cannot.
pub fn start(shared: Arc<Shared>, first: TrayView) -> Option<Windows> {
    let view = Arc::new(Mutex::new(first.clone()));
    let (tx, rx) = mpsc::channel();
    let viewing = view.clone();
    let thread = std::thread::Builder::new()
        .name("timecard-tray-win".into())
        .spawn(move || run(shared, viewing, first, tx))
        .map_err(|e| log::warn!("no tray icon: cannot start its thread: {e}"))
        .ok()?;
    match rx.recv() {
        Ok(Ok(hwnd)) => Some(Windows {
            hwnd,
            view,
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            log::warn!("no tray icon: {e}; the window goes on without it");
            let _ = thread.join();
            None
        }
        Err(_) => {
            log::warn!("no tray icon: its thread ended; the window goes on without it");
            None
        }
    }
}

/// The tray's thread: the hidden window, the icon, the message loop.
fn run(
    shared: Arc<Shared>,
    view: Arc<Mutex<TrayView>>,
    first: TrayView,
    ready: mpsc::Sender<Result<isize, String>>,
) {
    let class = w!("TimecardTray");
    let wc = WNDCLASSW {
        lpfnWndProc: Some(window_proc),
        lpszClassName: class,
        ..Default::default()
    };
    // SAFETY: the class names a static string and a procedure that lives
    // as long as the program; registering twice only fails.
    unsafe { RegisterClassW(&wc) };
    // SAFETY: a hidden top-level window of that class, no parent or menu.
    let hwnd = match unsafe {
        CreateWindowExW(
            WINDOW_EX_STYLE(0),
            class,
            w!("Timecard tray"),
            WS_OVERLAPPED,
            0,
            0,
            0,
            0,
            None,
            None,
            None,
            None,
        )
    } {
        Ok(hwnd) => hwnd,
        Err(e) => {
            let _ = ready.send(Err(format!("cannot create its window ({e})")));
            return;
        }
    };
    // SAFETY: a static, NUL-terminated name.
    let taskbar_created = unsafe { RegisterWindowMessageW(w!("TaskbarCreated")) };
    STATE.with(|state| {
        *state.borrow_mut() = Some(State {
            shared,
            view,
            shown: first,
            icon: None,
            taskbar_created,
            added: false,
        })
    });
    let added = with_state(|s| add(hwnd, s)).unwrap_or(false);
    if added {
        log::info!("tray icon created in the notification area");
    } else {
        log::info!("no notification area yet: the tray icon is added when the taskbar starts");
    }
    let _ = ready.send(Ok(hwnd.0 as isize));
    let mut msg = MSG::default();
    // SAFETY: the standard message loop of this thread's windows.
    while unsafe { GetMessageW(&mut msg, None, 0, 0) }.as_bool() {
        // SAFETY: `msg` was filled in by GetMessageW.
        unsafe {
            let _ = TranslateMessage(&msg);
            DispatchMessageW(&msg);
        }
    }
    STATE.with(|state| {
        if let Some(s) = state.borrow_mut().take()
            && let Some((_, icon)) = s.icon
        {
            // SAFETY: the icon was made by CreateIcon and is no longer shown.
            let _ = unsafe { DestroyIcon(icon) };
        }
    });
}

fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    STATE.with(|state| state.borrow_mut().as_mut().map(f))
}

/// The state's icon (made once per state).
fn icon(s: &mut State) -> Option<HICON> {
    let state = s.shown.state;
    if let Some((for_state, icon)) = s.icon
        && for_state == state
    {
        return Some(icon);
    }
    let rgba = icon_rgba(state, SIZE);
    // BGRA for a 32-bit icon; the AND mask is all zeros (alpha decides).
    let bgra: Vec<u8> = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[2], p[1], p[0], p[3]])
        .collect();
    let mask = vec![0u8; (SIZE * SIZE / 8) as usize];
    // SAFETY: both buffers hold SIZE×SIZE pixels at the depths given.
    let made = unsafe {
        CreateIcon(
            None,
            SIZE as i32,
            SIZE as i32,
            1,
            32,
            mask.as_ptr(),
            bgra.as_ptr(),
        )
    };
    match made {
        Ok(new) => {
            if let Some((_, old)) = s.icon.replace((state, new)) {
                // SAFETY: the old icon was made here and is replaced below.
                let _ = unsafe { DestroyIcon(old) };
            }
            Some(new)
        }
        Err(e) => {
            log::warn!("tray icon not drawn: {e}");
            None
        }
    }
}

fn data(hwnd: HWND, s: &mut State) -> NOTIFYICONDATAW {
    let mut nid = NOTIFYICONDATAW {
        cbSize: std::mem::size_of::<NOTIFYICONDATAW>() as u32,
        hWnd: hwnd,
        uID: 1,
        uFlags: NIF_MESSAGE | NIF_TIP,
        uCallbackMessage: WM_TRAY,
        ..Default::default()
    };
    if let Some(icon) = icon(s) {
        nid.hIcon = icon;
        nid.uFlags |= NIF_ICON;
    }
    let tip: Vec<u16> = s.shown.tooltip().encode_utf16().collect();
    let room = nid.szTip.len() - 1;
    for (to, from) in nid.szTip.iter_mut().zip(tip.iter().take(room)) {
        *to = *from;
    }
    nid
}

/// Adds the icon; whether the notification area took it.
fn add(hwnd: HWND, s: &mut State) -> bool {
    let nid = data(hwnd, s);
    // SAFETY: `nid` is a filled-in NOTIFYICONDATAW for this window.
    s.added = unsafe { Shell_NotifyIconW(NIM_ADD, &nid) }.as_bool();
    s.shared.set_host(s.added);
    s.added
}

fn update(hwnd: HWND, s: &mut State) {
    s.shown = s.view.lock().expect("tray view").clone();
    if !s.added {
        add(hwnd, s);
        return;
    }
    let nid = data(hwnd, s);
    // SAFETY: as in `add`.
    if !unsafe { Shell_NotifyIconW(NIM_MODIFY, &nid) }.as_bool() {
        add(hwnd, s);
    }
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(std::iter::once(0)).collect()
}

/// Shows the menu at the cursor and carries out the choice.
fn menu(hwnd: HWND, s: &State) {
    let view = &s.shown;
    // SAFETY: menus made here are destroyed below (the submenu with its
    // parent); every label outlives the call that copies it.
    unsafe {
        let Ok(menu) = CreatePopupMenu() else { return };
        let (label, enabled) = view.start_stop();
        let label = wide(&label);
        let flags = if enabled {
            MF_STRING
        } else {
            MF_STRING | MF_GRAYED
        };
        let _ = AppendMenuW(menu, flags, ID_START_STOP, PCWSTR(label.as_ptr()));
        if let Ok(contracts) = CreatePopupMenu() {
            let labels: Vec<Vec<u16>> = view.contracts.iter().map(|c| wide(&c.title)).collect();
            for (i, (c, label)) in view.contracts.iter().zip(&labels).enumerate() {
                let mut flags = MF_STRING;
                if !c.trackable {
                    flags |= MF_GRAYED;
                }
                if view.current.as_ref().is_some_and(|cur| cur.id == c.id) {
                    flags |= MF_CHECKED;
                }
                let _ = AppendMenuW(contracts, flags, ID_CONTRACT + i, PCWSTR(label.as_ptr()));
            }
            let _ = AppendMenuW(menu, MF_POPUP, contracts.0 as usize, w!("Contracts"));
        }
        let _ = AppendMenuW(menu, MF_SEPARATOR, 0, PCWSTR::null());
        let _ = AppendMenuW(menu, MF_STRING, ID_SHOW, w!("Show window"));
        let _ = AppendMenuW(menu, MF_STRING, ID_MINI, w!("Mini view"));
        let _ = AppendMenuW(menu, MF_SEPARATOR, 0, PCWSTR::null());
        let _ = AppendMenuW(menu, MF_STRING, ID_QUIT, w!("Quit"));
        let mut at = POINT::default();
        let _ = GetCursorPos(&mut at);
        // The menu closes when the user clicks elsewhere only if the
        // window is in the foreground.
        let _ = SetForegroundWindow(hwnd);
        let chosen = TrackPopupMenu(
            menu,
            TPM_RETURNCMD | TPM_RIGHTBUTTON,
            at.x,
            at.y,
            None,
            hwnd,
            None,
        )
        .0 as usize;
        let _ = DestroyMenu(menu);
        act(s, chosen);
    }
}

fn act(s: &State, chosen: usize) {
    match chosen {
        0 => {}
        ID_START_STOP => s.shared.start_stop(&s.shown),
        ID_SHOW => s.shared.show_window(),
        ID_MINI => s.shared.mini_view(),
        ID_QUIT => s.shared.quit(),
        n if n >= ID_CONTRACT => {
            if let Some(c) = s.shown.contracts.get(n - ID_CONTRACT) {
                s.shared.start(&c.id);
            }
        }
        _ => {}
    }
}

extern "system" fn window_proc(hwnd: HWND, msg: u32, wparam: WPARAM, lparam: LPARAM) -> LRESULT {
    match msg {
        WM_UPDATE => {
            with_state(|s| update(hwnd, s));
            LRESULT(0)
        }
        WM_TRAY => {
            match (lparam.0 & 0xffff) as u32 {
                WM_LBUTTONUP => {
                    with_state(|s| s.shared.show_window());
                }
                WM_RBUTTONUP | WM_CONTEXTMENU => {
                    // The menu runs its own loop: the state is not borrowed
                    // meanwhile (an update may arrive).
                    let taken = STATE.with(|state| state.borrow_mut().take());
                    if let Some(s) = taken {
                        menu(hwnd, &s);
                        STATE.with(|state| *state.borrow_mut() = Some(s));
                    }
                }
                _ => {}
            }
            LRESULT(0)
        }
        WM_CLOSE => {
            with_state(|s| {
                let nid = data(hwnd, s);
                // SAFETY: removes this window's icon.
                let _ = unsafe { Shell_NotifyIconW(NIM_DELETE, &nid) };
            });
            // SAFETY: this thread's own window.
            let _ = unsafe { DestroyWindow(hwnd) };
            LRESULT(0)
        }
        WM_DESTROY => {
            // SAFETY: ends this thread's message loop.
            unsafe { PostQuitMessage(0) };
            LRESULT(0)
        }
        _ => {
            let restarted = with_state(|s| msg != 0 && msg == s.taskbar_created).unwrap_or(false);
            if restarted {
                log::info!("the taskbar (re)started: adding the tray icon");
                with_state(|s| add(hwnd, s));
                return LRESULT(0);
            }
            // SAFETY: the default handling of any other message.
            unsafe { DefWindowProcW(hwnd, msg, wparam, lparam) }
        }
    }
}
