//! How many transfers run at once: a count of free places, waited for (a
//! transfer waits its turn).

use std::sync::{Arc, Condvar, Mutex};

/// A count of free places, waited for (a transfer waits its turn).
pub(super) struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    pub(super) fn new(n: usize) -> Self {
        Slots {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    pub(super) fn take(self: &Arc<Self>) -> Slot {
        let mut free = self.free.lock().expect("slots");
        while *free == 0 {
            free = self.freed.wait(free).expect("slots");
        }
        *free -= 1;
        Slot(self.clone())
    }
}

/// One place taken; given back when dropped.
pub(super) struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut free) = self.0.free.lock() {
            *free += 1;
        }
        self.0.freed.notify_one();
    }
}
