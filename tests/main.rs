//! Black-box tests of the convoy binary. One test binary keeps link time
//! down; each module covers one area.

mod canary;
mod check;
mod cli;
mod compressed;
mod corrupt;
mod csv_props;
mod faults;
mod files;
mod formats;
mod gcs;
mod mssql;
mod objstore;
mod postgres;
mod secrets;
mod stage;
mod support;
mod trials;
