//! Every function this process has seen, matched or not, kept so that a run
//! whose patterns matched nothing can suggest a pattern that would have.

use std::collections::HashMap;

/// Enough for large programs (vLLM sees ~60k functions); beyond it the
/// suggestions are drawn from the first ones seen.
const MAX_SEEN: usize = 500_000;

#[derive(Default)]
pub struct SeenFunctions {
    names: Vec<String>,
    name_ids: HashMap<String, u32>,
    /// (module id, filename id, qualname) per code object seen.
    functions: Vec<(u32, u32, String)>,
}

impl SeenFunctions {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.name_ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.to_owned());
        self.name_ids.insert(s.to_owned(), id);
        id
    }

    pub fn record(&mut self, module: &str, filename: &str, qualname: &str) {
        if self.functions.len() >= MAX_SEEN {
            return;
        }
        let module = self.intern(module);
        let filename = self.intern(filename);
        self.functions.push((module, filename, qualname.to_owned()));
    }

    pub fn len(&self) -> usize {
        self.functions.len()
    }

    /// (module, filename, qualname) of each function seen.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &str)> + Clone {
        self.functions.iter().map(|(m, f, q)| {
            let name = |id: &u32| self.names.get(*id as usize).map_or("", String::as_str);
            (name(m), name(f), q.as_str())
        })
    }
}
