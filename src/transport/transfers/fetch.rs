//! Fetching what others offer (`/get N`): connect, ask, write each file to
//! `NAME.part` under a safe name and rename it once every byte arrived;
//! a folder stream's entries likewise, never outside the download folder.

use rust_i18n::t;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::records::{progress, saved_text, Record};
use super::{Claimed, InOffer, Shared, CHUNK, CONNECT, STALL, TELL_EVERY};
use crate::chat::Event;
use crate::ipmsg::files::{self, Entry, Item, Stream};
use crate::net;

impl Shared {
    /// Fetches offer `n`, item by item, telling the window how it goes.
    pub(super) fn fetch(self: Arc<Self>, n: u64, offer: InOffer) {
        let start = Instant::now();
        let total: u64 = offer.items.iter().map(|i| i.size).sum();
        let mut done = 0u64;
        let mut saved = Vec::new();
        for item in &offer.items {
            let slot = self.slots_in.take();
            self.started();
            let result = if item.is_dir() {
                self.fetch_dir(n, &offer, item, done, total, start)
            } else {
                self.fetch_file(n, &offer, item, done, total, start)
            };
            self.ended();
            drop(slot);
            let seconds = start.elapsed().as_secs_f64();
            match result {
                Ok((path, bytes)) => {
                    done += item.size.max(bytes);
                    self.log_transfer(n, &offer, item, Some(&path), bytes, seconds, None);
                    saved.push(path);
                }
                Err(why) => {
                    self.log_transfer(n, &offer, item, None, 0, seconds, Some(&why));
                    self.unbusy(n);
                    self.sink.send(Event::Progress {
                        n,
                        text: t!(
                            "files.failed",
                            name = crate::sanitize::one_line(&item.name),
                            why = why
                        )
                        .into_owned(),
                        fetchable: true,
                    });
                    return;
                }
            }
        }
        if let Ok(mut i) = self.incoming.lock() {
            i.remove(&n);
        }
        self.sink.send(Event::Progress {
            n,
            text: t!(
                "files.saved",
                path = crate::sanitize::one_line(&saved_text(&saved))
            )
            .into_owned(),
            fetchable: false,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn log_transfer(
        &self,
        n: u64,
        offer: &InOffer,
        item: &Item,
        path: Option<&Path>,
        bytes: u64,
        seconds: f64,
        error: Option<&str>,
    ) {
        if let Some(j) = &self.journal {
            let mut r = Record::new(
                n,
                if error.is_some() { "failed" } else { "fetched" },
                offer.from,
            );
            r.nick = Some(&offer.nick);
            r.name = Some(&item.name);
            r.size = Some(item.size);
            r.path = path.map(|p| p.display().to_string());
            r.bytes = Some(bytes);
            r.seconds = Some((seconds * 1000.0).round() / 1000.0);
            r.error = error;
            j.record(&r);
        }
    }

    fn connect(
        &self,
        offer: &InOffer,
        command: u32,
        id: u64,
        offset: u64,
    ) -> Result<TcpStream, String> {
        let stream = net::connect_from(self.local, offer.from, CONNECT).map_err(|e| {
            t!(
                "files.cannot_connect",
                peer = offer.from,
                why = net::describe(&e)
            )
            .into_owned()
        })?;
        let _ = stream.set_read_timeout(Some(STALL));
        let _ = stream.set_write_timeout(Some(STALL));
        let _ = stream.set_nodelay(true);
        let request = (self.request)(offer.from, command, offer.packet, id, offset);
        (&stream)
            .write_all(&request)
            .map_err(|e| t!("files.cannot_ask", why = net::describe(&e)).into_owned())?;
        Ok(stream)
    }

    /// One file: into `NAME.part`, renamed `NAME` once whole; resumed from
    /// the `.part` where the peer honours the offset.
    fn fetch_file(
        &self,
        n: u64,
        offer: &InOffer,
        item: &Item,
        done_before: u64,
        total: u64,
        start: Instant,
    ) -> Result<(PathBuf, u64), String> {
        let dir = &self.download_dir;
        let (name, part, mut offset) = self.claim(&files::safe_name(&item.name), item.size);
        let _claimed = Claimed(self, part.clone());
        if offer.iptux {
            offset = 0; // it sends from byte 0 whatever is asked
        }
        // Asked first: a peer that cannot be reached leaves no empty file.
        let mut stream = self.connect(offer, files::GETFILEDATA, item.id, offset)?;
        let mut out = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&part)
            .map_err(|e| {
                t!(
                    "files.cannot_write",
                    path = part.display(),
                    why = net::describe(&e)
                )
                .into_owned()
            })?;
        out.set_len(offset).map_err(|e| net::describe(&e))?;
        out.seek(SeekFrom::Start(offset))
            .map_err(|e| net::describe(&e))?;
        let mut buf = vec![0u8; CHUNK];
        // The first bytes are told at once (a slow or stalled transfer
        // shows what came), then every TELL_EVERY.
        let mut told = Instant::now()
            .checked_sub(TELL_EVERY)
            .unwrap_or_else(Instant::now);
        let mut got = 0u64;
        while offset < item.size {
            let k = match stream.read(&mut buf) {
                Ok(0) if got == 0 => {
                    if offset == 0 {
                        drop(out);
                        let _ = fs::remove_file(&part);
                    }
                    return Err(t!("files.sent_nothing").into_owned());
                }
                Ok(0) => {
                    return Err(t!(
                        "files.short",
                        got = files::human_size(offset),
                        size = files::human_size(item.size),
                        path = part.display()
                    )
                    .into_owned())
                }
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if net::is_transient(&e) => {
                    return Err(t!(
                        "files.stalled_kept",
                        secs = STALL.as_secs(),
                        path = part.display()
                    )
                    .into_owned())
                }
                Err(e) => {
                    return Err(
                        t!("files.kept", why = net::describe(&e), path = part.display())
                            .into_owned(),
                    )
                }
            };
            if offset + k as u64 > item.size {
                return Err(t!(
                    "files.sent_more",
                    size = files::human_size(item.size),
                    path = part.display()
                )
                .into_owned());
            }
            out.write_all(&buf[..k]).map_err(|e| net::describe(&e))?;
            offset += k as u64;
            got += k as u64;
            if told.elapsed() >= TELL_EVERY {
                told = Instant::now();
                self.tell_in(n, done_before + offset, total, start);
            }
        }
        out.flush().map_err(|e| net::describe(&e))?;
        drop(out);
        let target = dir.join(&name);
        fs::rename(&part, &target).map_err(|e| net::describe(&e))?;
        self.tell_in(n, done_before + item.size, total, start);
        Ok((target, got))
    }

    /// The name a file is fetched under, its `.part`, and where to go on
    /// from: the first of `NAME`, `NAME (1)`… that is free, or whose
    /// `.part` (no bigger than `size`, not being written now, and no
    /// finished file beside it) a transfer left, to go on from its end.
    /// The `.part` is claimed until [`Claimed`] drops.
    fn claim(&self, name: &str, size: u64) -> (String, PathBuf, u64) {
        let dir = &self.download_dir;
        let mut writing = self.writing.lock().expect("parts");
        for k in 0u32.. {
            let candidate = files::numbered(name, k);
            let part = dir.join(format!("{candidate}.part"));
            if dir.join(&candidate).exists() || writing.contains(&part) {
                continue;
            }
            let offset = match fs::symlink_metadata(&part) {
                Err(_) => 0,
                Ok(m) if m.is_file() && m.len() <= size => m.len(),
                Ok(_) => continue,
            };
            writing.insert(part.clone());
            return (candidate, part, offset);
        }
        unreachable!("some number is free")
    }

    fn tell_in(&self, n: u64, done: u64, total: u64, start: Instant) {
        self.sink.send(Event::Progress {
            n,
            text: format!("↓ {}", progress(done, total, start)),
            fetchable: false,
        });
    }

    /// One folder: its stream written under the download folder, every
    /// name made safe, every file as `.part` until whole.
    fn fetch_dir(
        &self,
        n: u64,
        offer: &InOffer,
        item: &Item,
        done_before: u64,
        total: u64,
        start: Instant,
    ) -> Result<(PathBuf, u64), String> {
        let mut stream = self.connect(offer, files::GETDIRFILES, item.id, 0)?;
        // UTF-8 when the offer said so; else each name as it looks (iptux
        // writes what it took the peer's encoding to be, and says nothing).
        let decode = |raw: &[u8]| -> String {
            if offer.utf8 || crate::encoding::looks_utf8(raw) {
                String::from_utf8_lossy(raw).into_owned()
            } else {
                self.legacy.decode(raw).0.into_owned()
            }
        };
        let mut reader = Stream::new();
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut top: Option<PathBuf> = None;
        let mut file: Option<(File, PathBuf, PathBuf)> = None;
        let mut failure: Option<String> = None;
        let mut bytes = 0u64;
        // The first bytes are told at once (a slow or stalled transfer
        // shows what came), then every TELL_EVERY.
        let mut told = Instant::now()
            .checked_sub(TELL_EVERY)
            .unwrap_or_else(Instant::now);
        let mut buf = vec![0u8; CHUNK];
        loop {
            let k = match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if net::is_transient(&e) => {
                    return Err(t!("files.stalled", secs = STALL.as_secs()).into_owned())
                }
                Err(e) => return Err(net::describe(&e)),
            };
            let dl = &self.download_dir;
            let result = reader.push(&buf[..k], |e| {
                if failure.is_some() {
                    return;
                }
                let r: Result<(), String> = (|| {
                    match e {
                        Entry::Dir(raw) => {
                            let parent = dirs.last().cloned().unwrap_or_else(|| dl.clone());
                            let name = files::safe_name(&decode(raw));
                            let name = if dirs.is_empty() {
                                files::unique_name(&name, |n| parent.join(n).exists())
                            } else {
                                name
                            };
                            let path = parent.join(name);
                            fs::create_dir_all(&path).map_err(|e| net::describe(&e))?;
                            if top.is_none() {
                                top = Some(path.clone());
                            }
                            dirs.push(path);
                        }
                        Entry::File(raw, _) => {
                            let parent = dirs
                                .last()
                                .cloned()
                                .ok_or_else(|| t!("files.outside_folder").into_owned())?;
                            let name = files::safe_name(&decode(raw));
                            let name = files::unique_name(&name, |n| {
                                parent.join(n).exists() || parent.join(format!("{n}.part")).exists()
                            });
                            let target = parent.join(&name);
                            let part = parent.join(format!("{name}.part"));
                            let f = File::create(&part).map_err(|e| net::describe(&e))?;
                            file = Some((f, part, target));
                        }
                        Entry::Data(d) => {
                            if let Some((f, _, _)) = &mut file {
                                f.write_all(d).map_err(|e| net::describe(&e))?;
                            }
                            bytes += d.len() as u64;
                        }
                        Entry::FileEnd => {
                            if let Some((f, part, target)) = file.take() {
                                drop(f);
                                fs::rename(&part, &target).map_err(|e| net::describe(&e))?;
                            }
                        }
                        Entry::Up => {
                            dirs.pop();
                        }
                        Entry::Done => {}
                    }
                    Ok(())
                })();
                if let Err(why) = r {
                    failure = Some(why);
                }
            });
            if let Some(why) = failure.take() {
                return Err(why);
            }
            if let Err(e) = result {
                return Err(e.to_string());
            }
            if reader.done() {
                break;
            }
            if told.elapsed() >= TELL_EVERY {
                told = Instant::now();
                self.tell_in(n, done_before + bytes, total, start);
            }
        }
        let top = top.ok_or_else(|| t!("files.no_folder").into_owned())?;
        if !reader.done() {
            return Err(t!(
                "files.folder_short",
                got = files::human_size(bytes),
                path = top.display()
            )
            .into_owned());
        }
        self.tell_in(n, done_before + bytes.max(item.size), total, start);
        Ok((top, bytes))
    }
}
