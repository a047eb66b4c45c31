//! Screenshots on wlroots compositors (Sway, Hyprland, river) through the
//! `zwlr_screencopy_manager_v1` protocol: every output is copied into
//! shared memory and the outputs are composed into one picture in the
//! global layout (each at its `xdg_output` logical position), like the X11
//! root window.

use std::collections::HashMap;

use wayland_client::protocol::{wl_buffer, wl_output, wl_registry, wl_shm, wl_shm_pool};
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle, WEnum};
use wayland_protocols::xdg::xdg_output::zv1::client::{zxdg_output_manager_v1, zxdg_output_v1};
use wayland_protocols_wlr::screencopy::v1::client::{
    zwlr_screencopy_frame_v1, zwlr_screencopy_manager_v1,
};

use super::frame::Frame;
use super::shm::SharedMemory;
use super::{CaptureError, Captured, ScreenSource};

/// Screenshots through wlr-screencopy on the session's Wayland display.
pub struct WlrScreencopy {
    /// `None`: the session's display (`WAYLAND_DISPLAY`).
    socket: Option<std::path::PathBuf>,
    session: Option<Session>,
    pub quality: u8,
    pub max_side: u32,
}

struct Session {
    queue: EventQueue<State>,
    state: State,
    shm: wl_shm::WlShm,
    manager: zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1,
}

#[derive(Default)]
struct State {
    outputs: Vec<Output>,
    frames: HashMap<usize, FrameState>,
}

struct Output {
    output: wl_output::WlOutput,
    /// Where it is in the global layout (logical position).
    x: i32,
    y: i32,
    name: String,
}

#[derive(Default)]
struct FrameState {
    /// `(format, width, height, stride)` of the shm buffer offered.
    buffer: Option<(WEnum<wl_shm::Format>, u32, u32, u32)>,
    buffer_done: bool,
    y_invert: bool,
    ready: bool,
    failed: bool,
}

impl WlrScreencopy {
    pub fn new(quality: u8, max_side: u32) -> Self {
        WlrScreencopy::on_socket(None, quality, max_side)
    }

    /// On the compositor whose socket is at `socket`.
    pub fn on_socket(socket: Option<std::path::PathBuf>, quality: u8, max_side: u32) -> Self {
        WlrScreencopy {
            socket,
            session: None,
            quality,
            max_side,
        }
    }

    /// Whether the session's compositor offers wlr-screencopy (a quick
    /// look, for choosing a source).
    pub fn available() -> bool {
        Session::connect(None).is_ok()
    }

    /// The names of the outputs, in layout order (for messages).
    pub fn outputs(&mut self) -> Result<Vec<String>, CaptureError> {
        Ok(self
            .session()?
            .state
            .outputs
            .iter()
            .map(|o| o.name.clone())
            .collect())
    }

    fn session(&mut self) -> Result<&mut Session, CaptureError> {
        if self.session.is_none() {
            self.session = Some(Session::connect(self.socket.clone())?);
        }
        Ok(self.session.as_mut().expect("connected"))
    }

    /// Every output, composed in the global layout.
    pub fn grab(&mut self) -> Result<Frame, CaptureError> {
        let result = self.session().and_then(Session::grab);
        if result.is_err() {
            // A compositor that went away: connect afresh next time.
            self.session = None;
        }
        result
    }
}

impl ScreenSource for WlrScreencopy {
    fn capture(&mut self) -> Result<Option<Captured>, CaptureError> {
        let frame = self.grab()?;
        frame.encode(self.quality, self.max_side).map(Some)
    }
}

fn failed(what: impl std::fmt::Display) -> CaptureError {
    CaptureError::Failed(format!("Wayland screencopy: {what}"))
}

impl Session {
    fn connect(socket: Option<std::path::PathBuf>) -> Result<Session, CaptureError> {
        let conn = crate::wayland_support::connect(socket)
            .map_err(|e| CaptureError::NoDisplay(format!("no Wayland display to capture ({e})")))?;
        let (globals, mut queue) =
            wayland_client::globals::registry_queue_init::<State>(&conn).map_err(failed)?;
        let qh = queue.handle();
        let manager = globals
            .bind::<zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1, _, _>(&qh, 1..=3, ())
            .map_err(|_| {
                CaptureError::NoDisplay(
                    "the compositor does not offer wlr-screencopy (not a wlroots compositor)"
                        .into(),
                )
            })?;
        let shm = globals
            .bind::<wl_shm::WlShm, _, _>(&qh, 1..=1, ())
            .map_err(failed)?;
        let xdg = globals
            .bind::<zxdg_output_manager_v1::ZxdgOutputManagerV1, _, _>(&qh, 1..=3, ())
            .ok();
        let mut state = State::default();
        for global in globals.contents().clone_list() {
            if global.interface == wl_output::WlOutput::interface().name {
                let index = state.outputs.len();
                let output: wl_output::WlOutput =
                    globals
                        .registry()
                        .bind(global.name, global.version.min(4), &qh, index);
                if let Some(xdg) = &xdg {
                    xdg.get_xdg_output(&output, &qh, index);
                }
                state.outputs.push(Output {
                    output,
                    x: 0,
                    y: 0,
                    name: format!("output {}", index + 1),
                });
            }
        }
        queue.roundtrip(&mut state).map_err(failed)?;
        if state.outputs.is_empty() {
            return Err(CaptureError::NoDisplay(
                "the Wayland compositor has no outputs".into(),
            ));
        }
        Ok(Session {
            queue,
            state,
            shm,
            manager,
        })
    }

    fn grab(&mut self) -> Result<Frame, CaptureError> {
        let qh = self.queue.handle();
        self.state.frames.clear();
        let frames: Vec<_> = (0..self.state.outputs.len())
            .map(|i| {
                self.state.frames.insert(i, FrameState::default());
                self.manager
                    .capture_output(0, &self.state.outputs[i].output, &qh, i)
            })
            .collect();
        // The buffer each output wants.
        let version = self.manager.version();
        self.dispatch_until(|s| {
            s.frames
                .values()
                .all(|f| f.failed || (f.buffer.is_some() && (version < 3 || f.buffer_done)))
        })?;
        let mut copies = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            let state = &self.state.frames[&i];
            let Some((format, width, height, stride)) = state.buffer.filter(|_| !state.failed)
            else {
                return Err(failed(format!(
                    "the compositor would not copy {}",
                    self.state.outputs[i].name
                )));
            };
            let WEnum::Value(format) = format else {
                return Err(failed("an unknown pixel format"));
            };
            let len = stride as usize * height as usize;
            let memory = SharedMemory::new(len).map_err(failed)?;
            let pool = self.shm.create_pool(memory.fd(), len as i32, &qh, ());
            let buffer = pool.create_buffer(
                0,
                width as i32,
                height as i32,
                stride as i32,
                format,
                &qh,
                (),
            );
            frame.copy(&buffer);
            copies.push((memory, pool, buffer, format, width, height, stride));
        }
        self.dispatch_until(|s| s.frames.values().all(|f| f.ready || f.failed))?;
        let result = self.compose(&copies);
        for frame in frames {
            frame.destroy();
        }
        for (_, pool, buffer, ..) in copies {
            buffer.destroy();
            pool.destroy();
        }
        result
    }

    /// The outputs' pictures at their places in one BGRX frame.
    fn compose(
        &self,
        copies: &[(
            SharedMemory,
            wl_shm_pool::WlShmPool,
            wl_buffer::WlBuffer,
            wl_shm::Format,
            u32,
            u32,
            u32,
        )],
    ) -> Result<Frame, CaptureError> {
        if let Some((i, _)) = self.state.frames.iter().find(|(_, f)| f.failed) {
            return Err(failed(format!(
                "copying {} failed",
                self.state.outputs[*i].name
            )));
        }
        let places: Vec<(i32, i32, u32, u32)> = copies
            .iter()
            .enumerate()
            .map(|(i, c)| (self.state.outputs[i].x, self.state.outputs[i].y, c.4, c.5))
            .collect();
        let left = places.iter().map(|p| p.0).min().unwrap_or(0);
        let top = places.iter().map(|p| p.1).min().unwrap_or(0);
        let right = places.iter().map(|p| p.0 + p.2 as i32).max().unwrap_or(0);
        let bottom = places.iter().map(|p| p.1 + p.3 as i32).max().unwrap_or(0);
        let (width, height) = ((right - left) as u32, (bottom - top) as u32);
        let mut bgrx = vec![0u8; width as usize * height as usize * 4];
        for (i, (memory, _, _, format, w, h, stride)) in copies.iter().enumerate() {
            let swap = match format {
                wl_shm::Format::Xrgb8888 | wl_shm::Format::Argb8888 => false,
                wl_shm::Format::Xbgr8888 | wl_shm::Format::Abgr8888 => true,
                other => return Err(failed(format!("pixel format {other:?} is not handled"))),
            };
            let (x0, y0) = ((places[i].0 - left) as usize, (places[i].1 - top) as usize);
            let invert = self.state.frames[&i].y_invert;
            let bytes = memory.bytes();
            for row in 0..*h as usize {
                let from_row = if invert { *h as usize - 1 - row } else { row };
                let src = &bytes[from_row * *stride as usize..][..*w as usize * 4];
                let at = ((y0 + row) * width as usize + x0) * 4;
                let dst = &mut bgrx[at..at + *w as usize * 4];
                dst.copy_from_slice(src);
                if swap {
                    for pixel in dst.chunks_exact_mut(4) {
                        pixel.swap(0, 2);
                    }
                }
            }
        }
        Ok(Frame {
            width,
            height,
            bgrx,
        })
    }

    fn dispatch_until(&mut self, done: impl Fn(&State) -> bool) -> Result<(), CaptureError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !done(&self.state) {
            if std::time::Instant::now() > deadline {
                return Err(failed("the compositor did not answer within 5 s"));
            }
            self.queue
                .blocking_dispatch(&mut self.state)
                .map_err(failed)?;
        }
        Ok(())
    }
}

impl Dispatch<wl_output::WlOutput, usize> for State {
    fn event(
        state: &mut Self,
        _: &wl_output::WlOutput,
        event: wl_output::Event,
        index: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let (wl_output::Event::Name { name }, Some(output)) =
            (event, state.outputs.get_mut(*index))
        {
            output.name = name;
        }
    }
}

impl Dispatch<zxdg_output_v1::ZxdgOutputV1, usize> for State {
    fn event(
        state: &mut Self,
        _: &zxdg_output_v1::ZxdgOutputV1,
        event: zxdg_output_v1::Event,
        index: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some(output) = state.outputs.get_mut(*index) else {
            return;
        };
        match event {
            zxdg_output_v1::Event::LogicalPosition { x, y } => {
                output.x = x;
                output.y = y;
            }
            zxdg_output_v1::Event::Name { name } => output.name = name,
            _ => {}
        }
    }
}

impl Dispatch<zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1, usize> for State {
    fn event(
        state: &mut Self,
        _: &zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1,
        event: zwlr_screencopy_frame_v1::Event,
        index: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let frame = state.frames.entry(*index).or_default();
        use zwlr_screencopy_frame_v1::Event;
        match event {
            Event::Buffer {
                format,
                width,
                height,
                stride,
            } => frame.buffer = Some((format, width, height, stride)),
            Event::BufferDone => frame.buffer_done = true,
            Event::Flags { flags } => {
                frame.y_invert = matches!(
                    flags,
                    WEnum::Value(f) if f.contains(zwlr_screencopy_frame_v1::Flags::YInvert)
                );
            }
            Event::Ready { .. } => frame.ready = true,
            Event::Failed => frame.failed = true,
            _ => {}
        }
    }
}

crate::wayland_support::ignore_events!(State:
    wl_registry::WlRegistry => wayland_client::globals::GlobalListContents,
    wl_shm::WlShm => (),
    wl_shm_pool::WlShmPool => (),
    wl_buffer::WlBuffer => (),
    zxdg_output_manager_v1::ZxdgOutputManagerV1 => (),
    zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1 => (),
);
