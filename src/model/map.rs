//! [`Map`] and [`Set`]: ordered collections kept as a sorted `Vec`.
//!
//! Every role keeps its tables (connections, backends, sessions, calls) in
//! key order, so that what it does never depends on hashing. The standard
//! `BTreeMap` gives that order, but each key and value type it is used with
//! compiles its own copy of a large tree implementation: with some forty
//! such tables that was about 200 KB of the wasm module, a quarter of its
//! code. A sorted `Vec` gives the same order with a binary search and a
//! `Vec::insert` per type, and the tables here hold tens of entries, not
//! thousands.
//!
//! A map built from many entries at once (an object read from another
//! context, which may have 100,000 keys) is never built by inserting them
//! one by one, which shifts the `Vec` once per key: [`Map::from_entries`]
//! sorts them once, in O(n log n). Of two entries with one key, the later
//! one is kept, as a later `insert` replaces an earlier one.

use std::borrow::Borrow;

/// An ordered map: entries sorted by key, each key at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Map<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for Map<K, V> {
    fn default() -> Self {
        Map { entries: Vec::new() }
    }
}

impl<K: Ord, V> Map<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Map::default()
    }

    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value of `key`, to change.
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }

    /// Whether `key` has a value.
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Sets the value of `key`, returning the one it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Takes `key` out, returning its value.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// The place of `key`, to read or fill.
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        let at = self.find(&key);
        Entry { map: self, at, key }
    }

    /// Keeps only the entries for which `keep` says yes.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    /// The entry with the greatest key.
    pub fn last_key_value(&self) -> Option<(&K, &V)> {
        self.entries.last().map(|(k, v)| (k, v))
    }

    /// A map of `entries` given in any order, in O(n log n): one stable
    /// sort by key, then of each run of entries with one key the last is
    /// kept (as a later `insert` replaces an earlier one, and as a
    /// JavaScript object keeps the last of a repeated name).
    pub fn from_entries(mut entries: Vec<(K, V)>) -> Self {
        entries.sort_by(|(a, _), (b, _)| a.cmp(b));
        // `dedup_by` removes `later` and keeps `kept`: the later value moves into it first.
        entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(&mut later.1, &mut kept.1);
            }
            same
        });
        Map { entries }
    }
}

impl<K, V> Map<K, V> {
    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The entries, in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The entries, in key order, values to change.
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (&K, &mut V)> + ExactSizeIterator {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values, in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The values, in key order, to change.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// The keys, in order, taking the map.
    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = K> + ExactSizeIterator {
        self.entries.into_iter().map(|(k, _)| k)
    }

    /// The values, in key order, taking the map.
    pub fn into_values(self) -> impl DoubleEndedIterator<Item = V> + ExactSizeIterator {
        self.entries.into_iter().map(|(_, v)| v)
    }
}

/// The place of one key in a [`Map`], filled or not.
pub struct Entry<'a, K, V> {
    map: &'a mut Map<K, V>,
    at: Result<usize, usize>,
    key: K,
}

impl<'a, K, V> Entry<'a, K, V> {
    /// The value, inserting `make()` first if there is none.
    pub fn or_insert_with(self, make: impl FnOnce() -> V) -> &'a mut V {
        let i = match self.at {
            Ok(i) => i,
            Err(i) => {
                self.map.entries.insert(i, (self.key, make()));
                i
            }
        };
        &mut self.map.entries[i].1
    }

    /// The value, inserting `value` first if there is none.
    pub fn or_insert(self, value: V) -> &'a mut V {
        self.or_insert_with(|| value)
    }

    /// The value, inserting the default first if there is none.
    pub fn or_default(self) -> &'a mut V
    where
        V: Default,
    {
        self.or_insert_with(V::default)
    }
}

impl<K: Ord + Borrow<Q>, Q: Ord + ?Sized, V> std::ops::Index<&Q> for Map<K, V> {
    type Output = V;

    /// The value of `key`; panics if it has none, like `BTreeMap`'s index.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no value for the key indexed")
    }
}

impl<K, V> IntoIterator for Map<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a, K, V> IntoIterator for &'a Map<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl<'a, K, V> IntoIterator for &'a mut Map<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = std::iter::Map<std::slice::IterMut<'a, (K, V)>, fn(&'a mut (K, V)) -> (&'a K, &'a mut V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for Map<K, V> {
    /// [`Map::from_entries`]: of two entries with one key, the later is kept.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(items: I) -> Self {
        Map::from_entries(items.into_iter().collect())
    }
}

impl<K: Ord, V> Extend<(K, V)> for Map<K, V> {
    /// Adds `items` as [`Map::from_entries`] builds a map: in O(n log n),
    /// an item replacing the entry of its key.
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, items: I) {
        let mut entries = std::mem::take(&mut self.entries);
        entries.extend(items);
        *self = Map::from_entries(entries);
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for Map<K, V> {
    fn from(items: [(K, V); N]) -> Self {
        items.into_iter().collect()
    }
}

/// An ordered set: a [`Map`] to nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set<K> {
    map: Map<K, ()>,
}

impl<K> Default for Set<K> {
    fn default() -> Self {
        Set { map: Map::default() }
    }
}

impl<K: Ord> Set<K> {
    /// An empty set.
    pub fn new() -> Self {
        Set::default()
    }

    /// Adds `key`; whether it was new.
    pub fn insert(&mut self, key: K) -> bool {
        self.map.insert(key, ()).is_none()
    }

    /// Takes `key` out; whether it was there.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.map.remove(key).is_some()
    }

    /// Whether `key` is in the set.
    pub fn contains<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.map.contains_key(key)
    }

    /// Keeps only the keys for which `keep` says yes.
    pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        self.map.retain(|k, _| keep(k));
    }
}

impl<K> Set<K> {
    /// How many keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// The keys, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.map.keys()
    }
}

impl<K> IntoIterator for Set<K> {
    type Item = K;
    type IntoIter = std::iter::Map<std::vec::IntoIter<(K, ())>, fn((K, ())) -> K>;

    fn into_iter(self) -> Self::IntoIter {
        self.map.into_iter().map(|(k, ())| k)
    }
}

impl<'a, K> IntoIterator for &'a Set<K> {
    type Item = &'a K;
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, ())>, fn(&'a (K, ())) -> &'a K>;

    fn into_iter(self) -> Self::IntoIter {
        self.map.entries.iter().map(|(k, ())| k)
    }
}

impl<K: Ord> FromIterator<K> for Set<K> {
    fn from_iter<I: IntoIterator<Item = K>>(items: I) -> Self {
        Set { map: items.into_iter().map(|k| (k, ())).collect() }
    }
}

impl<K: Ord> Extend<K> for Set<K> {
    fn extend<I: IntoIterator<Item = K>>(&mut self, items: I) {
        self.map.extend(items.into_iter().map(|k| (k, ())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_keeps_its_keys_in_order_and_once() {
        let mut map = Map::new();
        for k in [5, 1, 9, 3, 1] {
            map.insert(k, k * 10);
        }
        assert_eq!(map.keys().copied().collect::<Vec<_>>(), [1, 3, 5, 9]);
        assert_eq!(map.insert(3, 33), Some(30));
        assert_eq!(map.get(&3), Some(&33));
        assert_eq!(map.remove(&5), Some(50));
        assert_eq!(map.remove(&5), None);
        assert!(!map.contains_key(&5));
        *map.entry(7).or_insert(0) += 1;
        *map.entry(7).or_insert_with(|| 100) += 1;
        assert_eq!(map[&7], 2);
        assert_eq!(map.get(&7), Some(&2));
        map.retain(|k, _| *k != 1);
        assert_eq!(map.into_iter().collect::<Vec<_>>(), [(3, 33), (7, 2), (9, 90)]);
    }

    #[test]
    fn a_map_of_strings_is_read_by_str() {
        let map: Map<String, u8> = [("b".to_string(), 2), ("a".to_string(), 1)].into();
        assert_eq!(map.get("a"), Some(&1));
        assert_eq!(map.last_key_value(), Some((&"b".to_string(), &2)));
    }

    /// A key that counts every comparison made of it.
    #[derive(Debug)]
    struct Counted(u32);

    thread_local! {
        static COMPARISONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    fn comparisons() -> u64 {
        COMPARISONS.with(std::cell::Cell::take)
    }

    impl PartialEq for Counted {
        fn eq(&self, other: &Self) -> bool {
            self.cmp(other) == std::cmp::Ordering::Equal
        }
    }
    impl Eq for Counted {}
    impl PartialOrd for Counted {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Counted {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            COMPARISONS.with(|n| n.set(n.get() + 1));
            self.0.cmp(&other.0)
        }
    }

    #[test]
    fn a_map_of_100_000_keys_is_built_by_one_sort_not_by_an_insert_per_key() {
        const N: u32 = 100_000;
        // Keys in descending order: inserted one by one, each goes first and
        // shifts every entry before it (N²/2 moves), after a binary search
        // of log2(i) comparisons. Sorted once, they are one run: a pass to
        // find it and one to look for repeated keys, about 2N comparisons.
        comparisons();
        let map: Map<Counted, u32> = (0..N).rev().map(|k| (Counted(k), k)).collect();
        let descending = comparisons();
        assert_eq!(map.len(), N as usize);
        assert!(map.keys().zip(map.keys().skip(1)).all(|(a, b)| a.0 < b.0), "in key order");
        comparisons();
        assert!(descending <= 2 * u64::from(N), "{descending} comparisons: not one sort");

        // Keys in an order with short runs only: a sort's O(N log N), never more.
        // 7,919 is prime to N: `i * 7_919 % N` is a permutation of 0..N.
        let shuffled = (0..N).map(|i| ((u64::from(i) * 7_919 % u64::from(N)) as u32, i));
        let map: Map<Counted, u32> = shuffled.map(|(k, i)| (Counted(k), i)).collect();
        let scattered = comparisons();
        assert_eq!(map.len(), N as usize);
        let log2 = u64::from(N.ilog2() + 1);
        assert!(scattered <= 2 * u64::from(N) * log2, "{scattered} comparisons for {N} keys");
    }

    #[test]
    fn of_entries_with_one_key_the_last_is_kept() {
        let map = Map::from_entries(vec![("b", 1), ("a", 2), ("b", 3), ("c", 4), ("b", 5), ("a", 6)]);
        assert_eq!(map.into_iter().collect::<Vec<_>>(), [("a", 6), ("b", 5), ("c", 4)]);
        let mut map: Map<&str, u8> = [("a", 1), ("b", 2)].into();
        map.extend([("c", 3), ("a", 9), ("a", 10)]);
        assert_eq!(map.into_iter().collect::<Vec<_>>(), [("a", 10), ("b", 2), ("c", 3)], "as insert would");
    }

    #[test]
    fn a_set_is_ordered_and_unique() {
        let mut set: Set<u8> = [3, 1, 3, 2].into_iter().collect();
        assert!(!set.insert(2));
        assert!(set.remove(&1));
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), [2, 3]);
        assert!(set.contains(&3));
    }
}
