//! Sharded runs: a stable partition of the inputs by a hash of the
//! article id, so an array job's tasks split a batch between them without
//! talking to each other. The same article always lands in the same shard,
//! whatever the other inputs.
//!
//! The shard comes from `--shard I/N`, else from the array job's
//! environment:
//!
//! | scheduler | index | count |
//! |---|---|---|
//! | Kubernetes Indexed Job | `JOB_COMPLETION_INDEX` | `--shard-count`, else `UKDIGEST_SHARD_COUNT` (set it to the Job's `completions`) |
//! | Slurm job array | (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`) / `SLURM_ARRAY_TASK_STEP` | `SLURM_ARRAY_TASK_COUNT` (else from MIN, MAX and STEP) |
//! | AWS Batch array job | `AWS_BATCH_JOB_ARRAY_INDEX` | `AWS_BATCH_JOB_ARRAY_SIZE` |
//!
//! `--shard-count` overrides the count in every case.
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 || index >= count {
            return Err(Error::Config(format!(
                "shard {index}/{count}: need 0 <= index < count"
            )));
        }
        Ok(Shard { index, count })
    }

    /// `I/N` (0-based index).
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || Error::Config(format!("--shard {s}: expected I/N, e.g. 0/3"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        Shard::new(
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        )
    }

    /// The shard of an array job's task, from its scheduler's environment
    /// (`get` reads a variable); `None` outside an array job.
    pub fn from_env(
        get: &dyn Fn(&str) -> Option<String>,
        count: Option<usize>,
    ) -> Result<Option<Shard>> {
        let num = |name: &str| -> Result<Option<i64>> {
            match get(name) {
                None => Ok(None),
                Some(v) if v.trim().is_empty() => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| Error::Config(format!("{name}={v} is not a number"))),
            }
        };
        let make = |index: i64, n: Option<i64>, what: &str| -> Result<Option<Shard>> {
            let n = count.map(|c| c as i64).or(n).ok_or_else(|| {
                Error::Config(format!(
                    "{what} is set but the shard count is not: pass --shard-count N or set UKDIGEST_SHARD_COUNT"
                ))
            })?;
            if index < 0 || n <= 0 {
                return Err(Error::Config(format!(
                    "{what}: shard {index}/{n} is out of range"
                )));
            }
            Shard::new(index as usize, n as usize).map(Some)
        };
        if let Some(i) = num("JOB_COMPLETION_INDEX")? {
            return make(i, num("UKDIGEST_SHARD_COUNT")?, "JOB_COMPLETION_INDEX");
        }
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let step = num("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
            let n = match num("SLURM_ARRAY_TASK_COUNT")? {
                Some(n) => Some(n),
                None => num("SLURM_ARRAY_TASK_MAX")?.map(|max| (max - min) / step + 1),
            };
            if (id - min) % step != 0 {
                return Err(Error::Config(format!(
                    "SLURM_ARRAY_TASK_ID={id} is not on the array's steps (min {min}, step {step})"
                )));
            }
            return make((id - min) / step, n, "SLURM_ARRAY_TASK_ID");
        }
        if let Some(i) = num("AWS_BATCH_JOB_ARRAY_INDEX")? {
            return make(
                i,
                num("AWS_BATCH_JOB_ARRAY_SIZE")?,
                "AWS_BATCH_JOB_ARRAY_INDEX",
            );
        }
        Ok(None)
    }

    /// The shard of a run: `--shard` wins, then the environment.
    pub fn resolve(flag: Option<&str>, count: Option<usize>) -> Result<Option<Shard>> {
        match flag {
            Some(s) => {
                let mut shard = Shard::parse(s)?;
                if let Some(c) = count {
                    shard = Shard::new(shard.index, c)?;
                }
                Ok(Some(shard))
            }
            None => Shard::from_env(&|k| std::env::var(k).ok(), count),
        }
    }

    /// Whether article `id` belongs to this shard.
    pub fn contains(&self, id: &str) -> bool {
        shard_of(id, self.count) == self.index
    }
}

/// The shard (of `count`) of article `id`: the first 8 bytes of its
/// sha256, modulo `count`.
pub fn shard_of(id: &str, count: usize) -> usize {
    let h = Sha256::digest(id.as_bytes());
    let x = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
    (x % count.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn shards_partition_the_inputs_stably() {
        let ids: Vec<String> = (0..500).map(|i| format!("{i:03}_article")).collect();
        for n in [1, 2, 3, 7] {
            let mut seen = vec![0; ids.len()];
            for i in 0..n {
                let s = Shard::new(i, n).unwrap();
                for (k, id) in ids.iter().enumerate() {
                    if s.contains(id) {
                        seen[k] += 1;
                    }
                }
            }
            // Union = all, no overlap.
            assert!(seen.iter().all(|&c| c == 1), "n = {n}");
        }
        // Stable under added inputs: an id's shard depends on the id alone.
        let before: Vec<usize> = ids.iter().map(|id| shard_of(id, 3)).collect();
        let more: Vec<String> = ids
            .iter()
            .cloned()
            .chain((0..100).map(|i| format!("new{i}")))
            .collect();
        let after: Vec<usize> = more[..ids.len()].iter().map(|id| shard_of(id, 3)).collect();
        assert_eq!(before, after);
        // Roughly balanced.
        let in0 = ids.iter().filter(|id| shard_of(id, 3) == 0).count();
        assert!((120..=210).contains(&in0), "{in0}");
    }

    #[test]
    fn the_flag_and_the_schedulers_environments() {
        assert_eq!(Shard::parse("1/3").unwrap(), Shard { index: 1, count: 3 });
        assert!(Shard::parse("3/3").is_err() && Shard::parse("x").is_err());
        let none = Shard::from_env(&env(&[]), None).unwrap();
        assert_eq!(none, None);
        let k8s = Shard::from_env(
            &env(&[("JOB_COMPLETION_INDEX", "2"), ("UKDIGEST_SHARD_COUNT", "4")]),
            None,
        );
        assert_eq!(k8s.unwrap(), Some(Shard { index: 2, count: 4 }));
        let e = Shard::from_env(&env(&[("JOB_COMPLETION_INDEX", "2")]), None).unwrap_err();
        assert!(e.to_string().contains("--shard-count"), "{e}");
        let k8s = Shard::from_env(&env(&[("JOB_COMPLETION_INDEX", "2")]), Some(3)).unwrap();
        assert_eq!(k8s, Some(Shard { index: 2, count: 3 }));
        // Slurm arrays need not start at 0 and may step.
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "14"),
            ("SLURM_ARRAY_TASK_MIN", "10"),
            ("SLURM_ARRAY_TASK_MAX", "18"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ]);
        assert_eq!(
            Shard::from_env(&slurm, None).unwrap(),
            Some(Shard { index: 2, count: 5 })
        );
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
        ]);
        assert_eq!(
            Shard::from_env(&slurm, None).unwrap(),
            Some(Shard { index: 0, count: 3 })
        );
        let aws = env(&[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "2"),
        ]);
        assert_eq!(
            Shard::from_env(&aws, None).unwrap(),
            Some(Shard { index: 0, count: 2 })
        );
        let bad = env(&[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "5"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "2"),
        ]);
        assert!(Shard::from_env(&bad, None).is_err());
        // The flag wins over the environment.
        assert_eq!(
            Shard::resolve(Some("0/2"), None).unwrap(),
            Some(Shard { index: 0, count: 2 })
        );
    }
}
