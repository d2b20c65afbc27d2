//! Serving what this user offered: each connection's request checked
//! against the offers (to their recipients only), then a file's bytes
//! from the asked offset or a folder stream.

use rust_i18n::t;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use super::records::Record;
use super::{Offered, Shared, CHUNK, STALL, TELL_EVERY};
use crate::ipmsg::files::{self, Item, Request};
use crate::net;

impl Shared {
    /// Serves one connection: reads the request, checks it against the
    /// offers, sends the file or the folder stream.
    fn answer(self: Arc<Self>, mut stream: TcpStream, peer: SocketAddr) {
        let _slot = self.slots_out.take();
        let _ = stream.set_read_timeout(Some(STALL));
        let _ = stream.set_write_timeout(Some(STALL));
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !files::request_complete(&buf) {
            match stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
        let Some(request) = files::parse_request(&buf) else {
            return; // not a request: closed without an answer
        };
        let Some((n, offered, cancelled, utf8)) = self.find(&request, peer) else {
            return; // not offered to this address: closed
        };
        self.started();
        let start = Instant::now();
        let result = if offered.item.is_dir() {
            self.send_dir(&mut stream, &offered.path, n, peer, &cancelled, utf8)
        } else {
            self.send_file(&mut stream, &offered, request.offset, n, peer, &cancelled)
        };
        self.ended();
        let ok = result.is_ok();
        if let Some(j) = &self.journal {
            let err = result.as_ref().err().cloned();
            let mut r = Record::new(n, if ok { "sent" } else { "failed" }, peer);
            r.name = Some(&offered.item.name);
            r.size = Some(offered.item.size);
            r.path = Some(offered.path.display().to_string());
            r.bytes = Some(*result.as_ref().unwrap_or(&0));
            r.seconds = Some((start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0);
            r.error = err.as_deref();
            j.record(&r);
        }
        if ok {
            if let Ok(mut out) = self.out.lock() {
                if let Some(o) = out.get_mut(&n) {
                    for r in o.recipients.iter_mut().filter(|r| r.addr.ip() == peer.ip()) {
                        r.whole = (r.whole + 1).min(o.items.len());
                    }
                }
            }
        }
        self.tell_out(n);
    }

    /// The item a request asks for, if it was offered to that address:
    /// the offer's number, the item, its cancel flag, whether the peer
    /// reads UTF-8 (for folder names).
    fn find(
        &self,
        request: &Request,
        peer: SocketAddr,
    ) -> Option<(u64, Offered, Arc<AtomicBool>, bool)> {
        let out = self.out.lock().ok()?;
        for (n, o) in out.iter() {
            let Some(r) = o
                .recipients
                .iter()
                .find(|r| r.packet == request.packet && r.addr.ip() == net::canonical(peer).ip())
            else {
                continue;
            };
            if r.declined {
                return None;
            }
            for id in request.ids() {
                if let Some(item) = o.items.iter().find(|i| i.item.id == id) {
                    let wants_dir = request.command == files::GETDIRFILES;
                    if item.item.is_dir() != wants_dir {
                        return None;
                    }
                    return Some((*n, item.clone(), o.cancelled.clone(), r.utf8));
                }
            }
            return None;
        }
        None
    }

    fn count_sent(&self, n: u64, peer: SocketAddr, k: u64, told: &mut Instant) {
        if let Ok(mut out) = self.out.lock() {
            if let Some(o) = out.get_mut(&n) {
                for r in o.recipients.iter_mut().filter(|r| r.addr.ip() == peer.ip()) {
                    r.fetched += k;
                }
            }
        }
        if told.elapsed() >= TELL_EVERY {
            *told = Instant::now();
            self.tell_out(n);
        }
    }

    fn send_file(
        &self,
        stream: &mut TcpStream,
        offered: &Offered,
        offset: u64,
        n: u64,
        peer: SocketAddr,
        cancelled: &AtomicBool,
    ) -> Result<u64, String> {
        let mut f = File::open(&offered.path).map_err(|e| net::describe(&e))?;
        let size = offered.item.size;
        let offset = offset.min(size);
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| net::describe(&e))?;
        let mut left = size - offset;
        let mut buf = vec![0u8; CHUNK];
        let mut told = Instant::now();
        let mut sent = 0u64;
        while left > 0 {
            if cancelled.load(Ordering::Relaxed) {
                return Err(t!("files.cancelled").into_owned());
            }
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let k = f.read(&mut buf[..want]).map_err(|e| net::describe(&e))?;
            if k == 0 {
                return Err(t!("files.shorter_than_offered").into_owned());
            }
            stream.write_all(&buf[..k]).map_err(|e| net::describe(&e))?;
            left -= k as u64;
            sent += k as u64;
            self.count_sent(n, peer, k as u64, &mut told);
        }
        Ok(sent)
    }

    /// The folder stream of `root`: its own header, its contents (folders
    /// first entered, then left), the header that leaves it.
    fn send_dir(
        &self,
        stream: &mut TcpStream,
        root: &Path,
        n: u64,
        peer: SocketAddr,
        cancelled: &AtomicBool,
        utf8: bool,
    ) -> Result<u64, String> {
        let encode = |name: &str| -> Vec<u8> {
            if utf8 {
                return name.as_bytes().to_vec();
            }
            self.legacy
                .encode(name)
                .unwrap_or_else(|_| name.as_bytes().to_vec())
        };
        let mut out = io::BufWriter::with_capacity(CHUNK, &mut *stream);
        let mut sent = 0u64;
        let mut told = Instant::now();
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "folder".into());
        out.write_all(&files::header(&encode(&name), 0, files::ATTR_DIR))
            .map_err(|e| net::describe(&e))?;
        // A stack of folders being read: depth-first, as the stream is.
        let mut stack = vec![read_dir_sorted(root)?];
        let mut buf = vec![0u8; CHUNK];
        while let Some(entries) = stack.last_mut() {
            if cancelled.load(Ordering::Relaxed) {
                return Err(t!("files.cancelled").into_owned());
            }
            let Some((path, is_dir, size)) = entries.pop() else {
                stack.pop();
                out.write_all(&files::header(b".", 0, files::ATTR_UP))
                    .map_err(|e| net::describe(&e))?;
                continue;
            };
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if is_dir {
                if stack.len() >= files::MAX_DEPTH {
                    continue; // deeper than a receiver takes: left out
                }
                out.write_all(&files::header(&encode(&name), 0, files::ATTR_DIR))
                    .map_err(|e| net::describe(&e))?;
                stack.push(read_dir_sorted(&path)?);
                continue;
            }
            let mut f = File::open(&path).map_err(|e| net::describe(&e))?;
            out.write_all(&files::header(&encode(&name), size, files::ATTR_FILE))
                .map_err(|e| net::describe(&e))?;
            let mut left = size;
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let k = f.read(&mut buf[..want]).map_err(|e| net::describe(&e))?;
                if k == 0 {
                    return Err(t!("files.shorter", path = path.display()).into_owned());
                }
                out.write_all(&buf[..k]).map_err(|e| net::describe(&e))?;
                left -= k as u64;
                sent += k as u64;
                self.count_sent(n, peer, k as u64, &mut told);
            }
        }
        out.flush().map_err(|e| net::describe(&e))?;
        Ok(sent)
    }
}

/// A folder's files and folders (not links or devices), with their sizes,
/// in reverse name order (popped from the end: name order).
fn read_dir_sorted(dir: &Path) -> Result<Vec<(PathBuf, bool, u64)>, String> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| format!("{}: {}", dir.display(), net::describe(&e)))? {
        let Ok(e) = e else { continue };
        let Ok(meta) = fs::symlink_metadata(e.path()) else {
            continue;
        };
        if meta.is_dir() {
            out.push((e.path(), true, 0));
        } else if meta.is_file() {
            out.push((e.path(), false, meta.len()));
        }
    }
    out.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(out)
}

/// The offer of a path: a file with its size, or a folder with the total
/// size of its contents.
///
/// # Errors
/// Why it cannot be offered.
pub fn describe_path(id: u64, path: &Path) -> Result<Offered, String> {
    let meta =
        fs::metadata(path).map_err(|e| format!("{}: {}", path.display(), net::describe(&e)))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| t!("files.not_file_or_folder", path = path.display()).into_owned())?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let (size, attr) = if meta.is_dir() {
        (folder_size(path, 0)?, files::ATTR_DIR)
    } else if meta.is_file() {
        (meta.len(), files::ATTR_FILE)
    } else {
        return Err(t!("files.not_file_or_folder", path = path.display()).into_owned());
    };
    Ok(Offered {
        item: Item {
            id,
            name,
            size,
            mtime,
            attr,
        },
        path: path.to_path_buf(),
    })
}

fn folder_size(dir: &Path, depth: usize) -> Result<u64, String> {
    if depth >= files::MAX_DEPTH {
        return Ok(0);
    }
    let mut total = 0;
    for (path, is_dir, size) in read_dir_sorted(dir)? {
        total += if is_dir {
            folder_size(&path, depth + 1)?
        } else {
            size
        };
    }
    Ok(total)
}

/// Accepts connections until told to stop; each is answered on a thread
/// of its own (at most [`SLOTS`] at once, the others wait).
pub(super) fn serve(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(stream) = conn else {
            thread::sleep(Duration::from_millis(50));
            continue;
        };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        let s = shared.clone();
        thread::spawn(move || s.answer(stream, net::canonical(peer)));
    }
}
