//! `convoy check` of local files: the source is readable, the
//! destination's directory writable. Nothing is written.

use std::path::{Path, PathBuf};

use super::LocalFiles;
use crate::connect::{Checked, OpenContext, Role, Status};
use crate::spec::Endpoint;

fn access_ok(path: &Path, mode: libc::c_int) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    unsafe { libc::access(c.as_ptr(), mode) == 0 }
}

pub(super) fn check(conn: &LocalFiles, ep: &Endpoint, role: Role, ctx: &OpenContext) -> Checked {
    let mut c = Checked::default();
    check_into(conn, ep, role, ctx, &mut c);
    c
}

fn check_into(conn: &LocalFiles, ep: &Endpoint, role: Role, ctx: &OpenContext, c: &mut Checked) {
    let raw = ctx.path_of(ep);
    if raw == "-" {
        return c.push(
            "access",
            Status::Ok,
            if role == Role::Source {
                "standard input"
            } else {
                "standard output"
            },
        );
    }
    let path = conn.resolve(&raw);
    if role == Role::Source {
        let text = path.to_string_lossy().to_string();
        let found: Vec<PathBuf> = if text.contains(['*', '?', '[']) {
            glob::glob(&text)
                .map(|g| g.flatten().collect())
                .unwrap_or_default()
        } else if path.exists() {
            vec![path.clone()]
        } else {
            Vec::new()
        };
        if found.is_empty() {
            return c.push(
                "access",
                Status::Fail,
                format!("{} does not exist", path.display()),
            );
        }
        let unreadable: Vec<String> = found
            .iter()
            .filter(|p| !access_ok(p, libc::R_OK) || (p.is_dir() && !access_ok(p, libc::X_OK)))
            .map(|p| p.display().to_string())
            .collect();
        if unreadable.is_empty() {
            c.push(
                "access",
                Status::Ok,
                format!(
                    "{} readable",
                    if found.len() == 1 {
                        found[0].display().to_string()
                    } else {
                        format!("{} files", found.len())
                    }
                ),
            );
        } else {
            c.push(
                "access",
                Status::Fail,
                format!("not readable: {}", unreadable.join(", ")),
            );
        }
        return;
    }
    // The sink writes beside the destination and renames: the directory that
    // will hold it (or the nearest one that exists) must be writable.
    let dir = if raw.ends_with('/') || ep.max_rows_per_file.is_some() {
        path.parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    } else {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    let mut existing = dir.as_path();
    while !existing.exists() {
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        return c.push(
            "access",
            Status::Fail,
            format!("{} is not a directory", existing.display()),
        );
    }
    if access_ok(existing, libc::W_OK | libc::X_OK) {
        let note = if existing == dir {
            String::new()
        } else {
            format!(" ({} will be created)", dir.display())
        };
        c.push(
            "access",
            Status::Ok,
            format!("directory {} writable{note}", existing.display()),
        );
    } else {
        c.push(
            "access",
            Status::Fail,
            format!("directory {} is not writable", existing.display()),
        );
    }
}
