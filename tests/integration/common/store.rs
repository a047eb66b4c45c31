//! Which store the server tests run against. By default SQLite in the
//! server's data folder; `TIMECARD_TEST_STORE=postgres` puts every server
//! of the process on the shared throwaway PostgreSQL cluster (a database
//! of its own per data folder), and `TIMECARD_TEST_BLOBS=dir|s3` puts its
//! pictures and zips in a folder or on the shared S3-compatible server.
//! `stores::server_suites_pass_on_postgres_and_s3` runs the server suites
//! again that way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use timecard_server::Storage;
use timecard_server::store::Database;
use timecard_server::store::blobs::BlobLocation;

use super::s3::S3Server;

/// The storage of the server whose data folder is `data_dir`: the same
/// every time it is asked for the same folder (a restarted server, a
/// command on its folder).
pub fn storage_for(data_dir: &Path) -> Storage {
    if let Some(storage) = chosen().get(data_dir) {
        return storage.clone();
    }
    // Chosen without the lock held: choosing may start a server.
    let storage = choose(data_dir);
    chosen()
        .entry(data_dir.to_owned())
        .or_insert(storage)
        .clone()
}

/// Puts the server on `data_dir` on `storage` (before it first starts).
pub fn use_storage(data_dir: &Path, storage: Storage) {
    chosen().insert(data_dir.to_owned(), storage);
}

fn chosen() -> std::sync::MutexGuard<'static, HashMap<PathBuf, Storage>> {
    static CHOSEN: OnceLock<Mutex<HashMap<PathBuf, Storage>>> = OnceLock::new();
    CHOSEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn choose(data_dir: &Path) -> Storage {
    let database = match std::env::var("TIMECARD_TEST_STORE").as_deref() {
        Ok("postgres") => {
            let cluster = super::postgres::shared().expect(
                "TIMECARD_TEST_STORE=postgres needs PostgreSQL (apt-get install postgresql)",
            );
            Some(Database::Postgres(cluster.new_database()))
        }
        Ok("sqlite") | Err(_) => None,
        Ok(other) => panic!("TIMECARD_TEST_STORE={other:?}: give sqlite or postgres"),
    };
    let blobs = match std::env::var("TIMECARD_TEST_BLOBS").as_deref() {
        Ok("dir") => Some(BlobLocation::Folder(data_dir.join("blobs"))),
        Ok("s3") => {
            let prefix = uuid::Uuid::new_v4().simple().to_string();
            Some(BlobLocation::parse(&shared_s3().url(&prefix)).expect("an s3:// address"))
        }
        Ok("") | Err(_) => None,
        Ok(other) => panic!("TIMECARD_TEST_BLOBS={other:?}: give dir or s3"),
    };
    Storage { database, blobs }
}

/// One S3-compatible server for the whole test process; its address and
/// keys are put in this process's environment (where the server reads
/// them in-process) and given to child servers by [`server_env`].
pub fn shared_s3() -> &'static S3Server {
    static SHARED: OnceLock<S3Server> = OnceLock::new();
    SHARED.get_or_init(|| {
        let server = S3Server::start().expect(
            "TIMECARD_TEST_BLOBS=s3 needs an S3-compatible server (ci/install-s3-server.sh)",
        );
        for (name, value) in server.env() {
            // SAFETY: set once, before any server of this process reads
            // the AWS_* variables (they are read when a blob store opens).
            unsafe { std::env::set_var(name, value) };
        }
        server
    })
}

/// The environment a `timecard-server` process on `data_dir` needs to use
/// the same storage as the in-process servers.
pub fn server_env(data_dir: &Path) -> Vec<(String, String)> {
    let storage = storage_for(data_dir);
    let mut env = Vec::new();
    if let Some(Database::Postgres(url)) = &storage.database {
        env.push(("TIMECARD_DATABASE_URL".to_owned(), url.clone()));
    }
    if let Some(blobs) = &storage.blobs {
        env.push(("TIMECARD_BLOBS".to_owned(), blobs.to_string()));
        if matches!(blobs, BlobLocation::S3 { .. }) {
            env.extend(shared_s3().env());
        }
    }
    env
}

/// Opens the store of the server on `data_dir` (as the server does).
pub fn open(data_dir: &Path) -> Box<dyn timecard_server::store::Store> {
    storage_for(data_dir)
        .open(data_dir)
        .expect("open the test server's store")
}
