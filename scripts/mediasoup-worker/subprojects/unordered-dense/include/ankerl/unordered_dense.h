// Stand-in for ankerl::unordered_dense (header-only, not packaged by Debian 12):
// the worker uses only map, set and hash, whose interfaces the standard
// containers provide. The standard ones keep iterators and references more stable
// than unordered_dense does, so code written for unordered_dense stays correct.
#ifndef MS_UNORDERED_DENSE_STAND_IN_H
#define MS_UNORDERED_DENSE_STAND_IN_H

#include <functional>
#include <unordered_map>
#include <unordered_set>

namespace ankerl::unordered_dense
{
	template<class T>
	using hash = std::hash<T>;

	template<class Key, class T, class Hash = hash<Key>, class KeyEqual = std::equal_to<Key>>
	using map = std::unordered_map<Key, T, Hash, KeyEqual>;

	template<class Key, class Hash = hash<Key>, class KeyEqual = std::equal_to<Key>>
	using set = std::unordered_set<Key, Hash, KeyEqual>;
} // namespace ankerl::unordered_dense

#endif
