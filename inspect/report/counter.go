package report

import "sort"

// other names the bucket that takes whatever no longer fits under a cap.
const other = "(other)"

// A Count is a name and how many records had it.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// counter counts names in first-seen order. It holds at most max distinct
// names; later ones are added to the "(other)" bucket, so its memory is
// bounded whatever the input.
type counter struct {
	max    int
	index  map[string]int // name → position in names; built past smallCounter names
	names  []string
	counts []int
	other  int
}

// smallCounter is how many names a counter scans before it builds an index:
// most hold a few versions, groups or outcomes, and a map for each of
// thousands of groups would cost more than the scan.
const smallCounter = 8

func newCounter(max int) *counter {
	return &counter{max: max}
}

func (c *counter) add(name string, n int) {
	if c.index != nil {
		if i, ok := c.index[name]; ok {
			c.counts[i] += n
			return
		}
	} else {
		for i, x := range c.names {
			if x == name {
				c.counts[i] += n
				return
			}
		}
	}
	if len(c.names) >= c.max {
		c.other += n
		return
	}
	c.names = append(c.names, name)
	c.counts = append(c.counts, n)
	switch {
	case c.index != nil:
		c.index[name] = len(c.names) - 1
	case len(c.names) > smallCounter:
		c.index = make(map[string]int, 2*len(c.names))
		for i, x := range c.names {
			c.index[x] = i
		}
	}
}

// size is the number of names held: what the cap bounds.
func (c *counter) size() int { return len(c.names) }

// total is the sum of all counts, "(other)" included.
func (c *counter) total() int {
	t := c.other
	for _, n := range c.counts {
		t += n
	}
	return t
}

// list returns the counts in first-seen order (for a hello, wire order),
// "(other)" last.
func (c *counter) list() []Count {
	if c == nil || len(c.names) == 0 && c.other == 0 {
		return nil
	}
	out := make([]Count, 0, len(c.names)+1)
	for i, n := range c.names {
		out = append(out, Count{n, c.counts[i]})
	}
	if c.other > 0 {
		out = append(out, Count{other, c.other})
	}
	return out
}

// sorted returns the counts most frequent first, ties in first-seen order,
// "(other)" last.
func (c *counter) sorted() []Count {
	out := c.list()
	if len(out) == 0 {
		return out
	}
	named := out
	if c.other > 0 {
		named = out[:len(out)-1]
	}
	sort.SliceStable(named, func(i, j int) bool { return named[i].Count > named[j].Count })
	return out
}

// examples keeps the first max distinct values it is given.
type examples struct {
	max  int
	vals []string
	more bool // a value was dropped for lack of room
}

func (e *examples) add(v string) {
	if v == "" {
		return
	}
	for _, x := range e.vals {
		if x == v {
			return
		}
	}
	if len(e.vals) >= e.max {
		e.more = true
		return
	}
	e.vals = append(e.vals, v)
}

// interner hands out one copy of each name so that the many groups holding
// "TLS_AES_128_GCM_SHA256" share its bytes. It stops taking new names at max.
type interner struct {
	max int
	m   map[string]string
}

func (in *interner) intern(s string) string {
	if v, ok := in.m[s]; ok {
		return v
	}
	if len(in.m) < in.max {
		if in.m == nil {
			in.m = make(map[string]string)
		}
		in.m[s] = s
	}
	return s
}
