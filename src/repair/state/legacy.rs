//! Layout 1, written as the builds before layout 2 wrote it (tests only):
//! the previous state a first run after the upgrade reads. Per entity,
//! side and key the 16-byte field hashes, the bases unless each is its own
//! hash, and `=` for a right row equal to its left twin.

use std::path::Path;

use super::layout::{write_batch, Layout, StateBatch, StoredRow, StoredSide};
use super::model::EntityState;
use super::{NONE, SAME};
use crate::error::{Error, Result};
use crate::spec::Side;

/// Writes `states` to `path` in layout 1, one row group per entity.
pub(super) fn write_v1(path: &Path, states: &[(&str, &EntityState)]) -> Result<()> {
    let mut writer = None;
    let mut batch = StateBatch::new(Layout::V1);
    for &(entity, st) in states {
        let left = &st.sides[Side::Left.idx()];
        for side in Side::BOTH {
            let s = &st.sides[side.idx()];
            let w = s.width();
            let twins = side == Side::Right && w > 0 && s.slots == left.slots;
            let names: Vec<&str> = s.slots.iter().map(|&i| st.names[i as usize].as_str()).collect();
            let mut order: Vec<usize> = (0..s.keys.len()).collect();
            order.sort_unstable_by(|&a, &b| s.keys[a].cmp(&s.keys[b]));
            let mut first = true;
            for i in order {
                let mut hashes = Vec::with_capacity(16 * w);
                let mut bases = Vec::with_capacity(16 * w);
                for j in 0..w {
                    let h = s.hashes[i * w + j];
                    hashes.extend_from_slice(&h);
                    bases.extend_from_slice(&s.bases.get(i * w + j, h).unwrap_or(NONE));
                }
                if bases == hashes {
                    bases.clear();
                }
                let fields = first.then(|| names.join(","));
                first = false;
                let same = twins
                    && s.twin
                        .get(i)
                        .is_some_and(|&l| l != u32::MAX && s.same_row(i, left, l as usize));
                let (hashes, bases) = match same {
                    true => (SAME, &[][..]),
                    false => (&hashes[..], &bases[..]),
                };
                batch.push(&StoredRow {
                    entity,
                    side: StoredSide::One(side),
                    key: &s.keys[i],
                    row_hash: &[],
                    hashes,
                    bases,
                    fields: fields.as_deref(),
                });
            }
        }
        let open = || std::fs::File::create(path).map_err(|e| Error::io(path, e));
        write_batch(&mut batch, &mut writer, open, path)?;
    }
    let open = || std::fs::File::create(path).map_err(|e| Error::io(path, e));
    write_batch(&mut batch, &mut writer, open, path)?;
    if let Some(w) = writer {
        w.finish()
            .map_err(|e| Error::polars(format!("writing {}", path.display()), e))?;
    }
    Ok(())
}
