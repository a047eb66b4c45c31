//! Where the admin commands find the server's data: the data folder and
//! the database and blob store the global options name.

use std::path::PathBuf;

use anyhow::Context;

use crate::launch::{DB_FILE, Storage};
use crate::store::Store;

/// The data folder and where the data lives, as the global options say.
pub struct Site {
    pub data: PathBuf,
    pub storage: Storage,
}

impl Site {
    pub fn open(&self) -> anyhow::Result<Box<dyn Store>> {
        self.storage.open(&self.data).with_context(|| {
            format!(
                "cannot open the database ({})",
                self.storage.database.as_ref().map_or_else(
                    || self.data.join(DB_FILE).display().to_string(),
                    |d| d.describe()
                )
            )
        })
    }
}
