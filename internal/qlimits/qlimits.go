// Package qlimits refuses GraphQL documents whose shape alone would make the
// server do super-linear work, before gqlgen parses or validates them.
//
// gqlparser's validation is not linear in the size of a document: the
// OverlappingFieldsCanBeMerged rule compares every pair of fields that share
// a response key (5,000 repetitions of one field cost 16 s of CPU), fragment
// spreads multiply when a fragment is spread from several places, and
// aliases, depth and introspection multiply execution work. Check scans the
// raw query text once with gqlparser's own lexer, in time linear in the
// document and bounded by MaxTokens, recording only the selections; then it
// replays them with fragments expanded to price what the overlap rule will
// compare. It stops at the first limit the document breaches. It needs no
// schema, so it runs before the parser, the validator and the query cache.
//
// The server wires it with one line, after the APQ extension so that a
// persisted query fetched by hash is checked too:
//
//	srv.Use(extension.AutomaticPersistedQuery{Cache: apqCache})
//	srv.Use(qlimits.Extension{Limits: qlimits.Defaults()})
//
// Refusals are *apperr.Error with code QUERY_TOO_COMPLEX and extensions
// {"limit": <name>, "max": <value>}.
package qlimits

import (
	"fmt"
	"hash/maphash"
	"sync"

	"cartograph/internal/apperr"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
)

// Code is the extensions.code of a document refused by a limit. apperr does
// not define it because only this package produces it.
const Code apperr.Code = "QUERY_TOO_COMPLEX"

// Limit names a limit in a refusal's extensions.limit.
type Limit string

// The limits Check enforces; each is the extensions.limit of its refusal.
const (
	LimitTokens         Limit = "tokens"
	LimitDepth          Limit = "depth"
	LimitAliases        Limit = "aliases"
	LimitRootFields     Limit = "rootFields"
	LimitFragments      Limit = "fragments"
	LimitSpreads        Limit = "spreads"
	LimitFieldRepeats   Limit = "fieldRepeats"
	LimitOverlapCost    Limit = "overlapCost"
	LimitExpandedFields Limit = "expandedFields"
	LimitDirectives     Limit = "directives"
	LimitInputDepth     Limit = "inputDepth"
)

// Limits bounds the shape of one GraphQL document. A zero field takes its
// default (so Limits{} is Defaults()); a negative field disables that limit.
// Counts are of the document as sent, except where a field says that
// fragments are expanded: there a fragment counts once for every place it is
// spread, because that is how the validator and the executor see it.
type Limits struct {
	// MaxTokens bounds the lexical tokens (comments included, as gqlparser's
	// own token limit counts them). Default 10,000.
	MaxTokens int
	// MaxDepth bounds the nesting of selection sets, inline fragments
	// included, with fragment spreads expanded. Default 15.
	MaxDepth int
	// MaxInputDepth bounds the nesting of list and object values (and list
	// types) inside argument lists, variable definitions and directive
	// arguments; they never count towards MaxDepth. Default 10.
	MaxInputDepth int
	// MaxAliases bounds the aliased fields in the document. Default 30.
	MaxAliases int
	// MaxRootFields bounds the fields selected at the top level of one
	// operation, through inline fragments and fragment spreads. Default 20.
	MaxRootFields int
	// MaxFragments bounds the fragment definitions. Default 50.
	MaxFragments int
	// MaxSpreads bounds the fragment spreads written in the document, and
	// also the spreads of all operations together with every fragment
	// expanded where it is spread (which catches fragments that each spread
	// the next one several times). Default 200.
	MaxSpreads int
	// MaxFieldRepeats bounds how often one response key (alias or field
	// name) is selected in one selection set as written. Default 5.
	MaxFieldRepeats int
	// MaxOverlapCost bounds an estimate, in field comparisons, of the work
	// of gqlparser's OverlappingFieldsCanBeMerged rule, which is quadratic:
	// it compares every pair of fields that share a response key at one
	// response path (merging inline fragments, repeated parent fields and
	// fragment spreads), rebuilds both sub-selections of every such pair,
	// and rebuilds both fragments of every pair of fragments spread at one
	// path. Check charges exactly those: a pair of fields 1 plus the fields
	// under both (doubled per enclosing inline fragment, whose selection
	// set is compared again), a pair of fragments 1 plus the fields of
	// both, a spread the fields of its fragment, and a field inside inline
	// fragments 1 per enclosing inline fragment. A unit measured 0.03 µs
	// (small selection sets) to 0.7 µs (thousands of fields in one set) of
	// validation here. The Next.js Commerce listing costs 24, Apollo's
	// __typename in eight inline fragments of a union 149, a Relay-style
	// product query spreading 30 six-field fragments on one object 7,170.
	// Default 10,000.
	MaxOverlapCost int
	// MaxExpandedFields bounds the fields that fragment spreads bring into
	// operations, each fragment counted once for every path it is spread
	// at. It bounds Check's own expansion and what one operation asks the
	// executor to resolve per object. Default 20,000.
	MaxExpandedFields int
	// MaxDirectives bounds the directives in the document. Default 50.
	MaxDirectives int
}

// Defaults returns the limits Cartograph serves with: generous for
// storefront documents (Next.js Commerce, Hydrogen-style, Relay and Apollo
// clients) and far below what makes validation or execution super-linear.
func Defaults() Limits {
	return Limits{
		MaxTokens:         10000,
		MaxDepth:          15,
		MaxInputDepth:     10,
		MaxAliases:        30,
		MaxRootFields:     20,
		MaxFragments:      50,
		MaxSpreads:        200,
		MaxFieldRepeats:   5,
		MaxOverlapCost:    10000,
		MaxExpandedFields: 20000,
		MaxDirectives:     50,
	}
}

// unlimited stands for a disabled limit; large enough never to be reached
// by a document that fits in memory, small enough not to overflow sums.
const unlimited = 1 << 40

func norm(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return unlimited
	}
	return v
}

func (l Limits) normalized() Limits {
	d := Defaults()
	return Limits{
		MaxTokens:         norm(l.MaxTokens, d.MaxTokens),
		MaxDepth:          norm(l.MaxDepth, d.MaxDepth),
		MaxInputDepth:     norm(l.MaxInputDepth, d.MaxInputDepth),
		MaxAliases:        norm(l.MaxAliases, d.MaxAliases),
		MaxRootFields:     norm(l.MaxRootFields, d.MaxRootFields),
		MaxFragments:      norm(l.MaxFragments, d.MaxFragments),
		MaxSpreads:        norm(l.MaxSpreads, d.MaxSpreads),
		MaxFieldRepeats:   norm(l.MaxFieldRepeats, d.MaxFieldRepeats),
		MaxOverlapCost:    norm(l.MaxOverlapCost, d.MaxOverlapCost),
		MaxExpandedFields: norm(l.MaxExpandedFields, d.MaxExpandedFields),
		MaxDirectives:     norm(l.MaxDirectives, d.MaxDirectives),
	}
}

// Check scans query once and returns nil, or an *apperr.Error with code
// QUERY_TOO_COMPLEX naming the first limit the document breaches. Any
// goroutine may call it; it keeps no state between calls.
//
// The scan stops after MaxTokens+1 tokens and the replay after
// 4×MaxExpandedFields steps, so work is linear in the document and bounded
// whatever it holds. A document the lexer rejects passes (nil) unless a
// limit counted while scanning was breached before the bad token: gqlgen's
// parser reads the same tokens with the same lexer and fails there, so such
// a document never reaches the validator or the executor.
func (l Limits) Check(query string) error {
	l = l.normalized()
	c := checkers.Get().(*checker)
	err := c.run(&l, query)
	c.reset()
	checkers.Put(c)
	if err != nil {
		return err
	}
	return nil
}

func refuse(limit Limit, max int, format string) *apperr.Error {
	return &apperr.Error{
		Code:       Code,
		Message:    fmt.Sprintf(format, max),
		Extensions: map[string]any{"limit": string(limit), "max": max},
	}
}

func errTokens(l *Limits) *apperr.Error {
	return refuse(LimitTokens, l.MaxTokens, "document exceeds the maximum of %d tokens")
}

func errDepth(l *Limits) *apperr.Error {
	return refuse(LimitDepth, l.MaxDepth, "document exceeds the maximum depth of %d")
}

func errInputDepth(l *Limits) *apperr.Error {
	return refuse(LimitInputDepth, l.MaxInputDepth, "document exceeds the maximum input value depth of %d")
}

func errAliases(l *Limits) *apperr.Error {
	return refuse(LimitAliases, l.MaxAliases, "document exceeds the maximum of %d aliases")
}

func errRootFields(l *Limits) *apperr.Error {
	return refuse(LimitRootFields, l.MaxRootFields, "operation exceeds the maximum of %d root fields")
}

func errFragments(l *Limits) *apperr.Error {
	return refuse(LimitFragments, l.MaxFragments, "document exceeds the maximum of %d fragment definitions")
}

func errSpreads(l *Limits) *apperr.Error {
	return refuse(LimitSpreads, l.MaxSpreads, "document exceeds the maximum of %d fragment spreads (counted once for every place a fragment is spread)")
}

func errFieldRepeats(l *Limits) *apperr.Error {
	return refuse(LimitFieldRepeats, l.MaxFieldRepeats, "document selects the same field more than %d times in one selection set")
}

func errOverlapCost(l *Limits) *apperr.Error {
	return refuse(LimitOverlapCost, l.MaxOverlapCost, "document exceeds the maximum field-merging cost of %d: it selects one response key at one path, or spreads fragments together, too often")
}

func errExpandedFields(l *Limits) *apperr.Error {
	return refuse(LimitExpandedFields, l.MaxExpandedFields, "document exceeds the maximum of %d fields once fragments are expanded")
}

func errDirectives(l *Limits) *apperr.Error {
	return refuse(LimitDirectives, l.MaxDirectives, "document exceeds the maximum of %d directives")
}

// checkers recycles scratch space so that checking a storefront document
// allocates nothing in the steady state.
var checkers = sync.Pool{New: func() any { return newChecker() }}

// seed keys every hash with a per-process secret, so no one can choose
// names whose paths collide (a collision could merge two paths' counts, or
// make the expansion skip a fragment as already expanded).
var seed = maphash.MakeSeed()

// fragmentPairCost is what comparing two fragments costs the validator
// beyond their fields (the pair memo, two map allocations), in field units.
const fragmentPairCost = 1

// Selection-level states of the scanner (brace depth ≥ 1, outside argument
// lists). A Name is ambiguous until the next token: `a: b` is an alias.
const (
	stSel       = iota // expecting a selection, `{`, `}`, `(` or `@`
	stAfterName        // saw a Name that starts a selection; pending
	stAliasName        // saw `alias :`; the next Name is the field name
	stSkipName         // saw `@`; the next Name is a directive name
	stSpread           // saw `...`; spread or inline fragment follows
	stTypeCond         // saw `... on`; the next Name is a type condition
)

// Header states of the scanner between definitions (brace depth 0).
const (
	hdStart    = iota // before a definition
	hdOp              // inside `query|mutation|subscription …` before `{`
	hdFragName        // saw `fragment`; the next Name is its name
	hdFrag            // inside a fragment header before `{`
)

// Kinds of recorded items: a definition's selections below its root, in
// document order, replayed by walk to expand fragments.
const (
	itField      = iota // h is the response key's hash
	itOpen              // the last field's selection set opens
	itOpenInline        // an inline fragment's selection set opens
	itClose
	itSpread // h is the index in spreads
)

type item struct {
	kind uint8
	h    uint64
}

// level is one open selection set while scanning.
type level struct {
	set uint64 // identity of this selection set as written
	top bool   // fields here are top-level fields of the definition
}

// frame is one open selection set while walking.
type frame struct {
	path uint64 // hash of the response path (inline fragments inherit it)
	inl  int    // enclosing inline fragments up to the nearest field
	pinl int    // the inl of the field this selection set belongs to
}

// def is one operation or fragment definition.
type def struct {
	name       string // fragment name; "" for operations
	frag       bool
	depth      int // own selection-set depth
	topFields  int // own top-level fields (through inline fragments)
	spLo, spHi int // its spreads: spreads[spLo:spHi]
	itLo, itHi int // its items: items[itLo:itHi]

	// filled by expand
	state           uint8 // 0 new, 1 in progress, 2 done
	xSpreads, xDeep int
	xTop            int
	// used by walk
	reached, onStack bool
}

// spread is one `...Name` in the document.
type spread struct {
	target string
	depth  int  // depth of the selection set holding the spread
	top    bool // the spread sits at its definition's top level
	to     int  // index of the target in defs, -1 if undefined
}

// met is one fragment expanded at one path, in a per-path list.
type met struct {
	frag int
	next int32 // previous entry at the same path, -1 at the end
}

type checker struct {
	src     ast.Source
	levels  []level
	defs    []def
	spreads []spread
	items   []item
	frames  []frame
	mets    []met
	sets    table // scan: fields per response key per selection set
	tab     table // walk: fields per path, children per path
	seen    table // walk: fragments per path, fragment pairs, list heads

	cost, work, fields int
}

func newChecker() *checker {
	return &checker{
		levels:  make([]level, 0, 32),
		defs:    make([]def, 0, 8),
		spreads: make([]spread, 0, 32),
		items:   make([]item, 0, 256),
		frames:  make([]frame, 0, 32),
		mets:    make([]met, 0, 16),
		sets:    newTable(256),
		tab:     newTable(512),
		seen:    newTable(64),
	}
}

// reset drops every reference to the last query (names are substrings of
// it) so the pool does not pin request bodies, and shrinks what a hostile
// document grew.
func (c *checker) reset() {
	c.src = ast.Source{}
	clear(c.defs)
	clear(c.spreads)
	c.levels, c.defs, c.spreads = c.levels[:0], c.defs[:0], c.spreads[:0]
	c.items, c.frames, c.mets = c.items[:0], c.frames[:0], c.mets[:0]
	if cap(c.levels) > 256 {
		c.levels = make([]level, 0, 32)
	}
	if cap(c.defs) > 256 {
		c.defs = make([]def, 0, 8)
	}
	if cap(c.spreads) > 1024 {
		c.spreads = make([]spread, 0, 32)
	}
	if cap(c.items) > 4096 {
		c.items = make([]item, 0, 256)
	}
	if cap(c.frames) > 256 {
		c.frames = make([]frame, 0, 32)
	}
	if cap(c.mets) > 1024 {
		c.mets = make([]met, 0, 16)
	}
	c.sets.shrinkOrReset(256)
	c.tab.shrinkOrReset(512)
	c.seen.shrinkOrReset(64)
	c.cost, c.work, c.fields = 0, 0, 0
}

// Salts keep the different kinds of keys in one table apart.
const (
	saltKids  = 0x94d049bb133111eb
	saltMet   = 0x9fb21c651e98df25
	saltPair  = 0xd6e8feb86659fd93
	saltHeads = 0xc2b2ae3d27d4eb4f
)

// field charges one field with response key hash kh, in a selection set at
// merged path pp, inside inl inline fragments (pinl for the field owning
// the set), and returns its path. The overlap rule pairs it with every
// earlier field at its path (1 each), rebuilds the sub-selections of each
// pair (charged as they arrive: a new parent pays for the children already
// there, a new child for the parents already there), and collects the
// fields of an inline fragment once more for each enclosing inline
// fragment, repeating the comparisons made inside it.
func (c *checker) field(l *Limits, pp, kh uint64, inl, pinl int) (uint64, *apperr.Error) {
	q := mix(pp, kh)
	n := c.tab.inc(q)
	cost := (n-1+c.tab.get(q^saltKids))*(1+inl) + inl
	if np := c.tab.get(pp); np > 1 {
		cost += (np - 1) * (1 + pinl)
	}
	c.tab.inc(pp ^ saltKids)
	c.cost += cost
	if c.cost > l.MaxOverlapCost {
		return q, errOverlapCost(l)
	}
	return q, nil
}

func (c *checker) run(l *Limits, query string) *apperr.Error {
	c.src.Input = query
	lx := lexer.New(&c.src)

	var (
		tokens, aliases, directives, fragments int
		parens, inputDepth                     int
		state                                  = stSel
		header                                 = hdStart
		fragName                               string
		pending                                string // pending Name in stAfterName, alias in stAliasName
		inline                                 bool   // the next `{` opens an inline fragment
		serial                                 uint64 // numbers selection sets
		cur                                    = -1   // index of the open definition in defs
	)

	// field records one selected field under response key key.
	field := func(key string) *apperr.Error {
		inline = false
		lv := &c.levels[len(c.levels)-1]
		kh := maphash.String(seed, key)
		c.items = append(c.items, item{kind: itField, h: kh})
		if c.sets.inc(mix(lv.set, kh)) > l.MaxFieldRepeats {
			return errFieldRepeats(l)
		}
		if lv.top {
			d := &c.defs[cur]
			d.topFields++
			if !d.frag && d.topFields > l.MaxRootFields {
				return errRootFields(l)
			}
		}
		return nil
	}

	for {
		tok, lerr := lx.ReadToken()
		if lerr != nil {
			return nil // the parser reports it, on this very token
		}
		if tok.Kind == lexer.EOF {
			break
		}
		tokens++
		if tokens > l.MaxTokens {
			return errTokens(l)
		}
		if tok.Kind == lexer.Comment {
			continue
		}
		depth := len(c.levels)

		// Resolve what the previous token left open at selection level.
		if depth > 0 && parens == 0 {
			switch state {
			case stAfterName:
				state = stSel
				if tok.Kind == lexer.Colon {
					aliases++
					if aliases > l.MaxAliases {
						return errAliases(l)
					}
					state = stAliasName
					continue
				}
				if err := field(pending); err != nil {
					return err
				}
			case stAliasName:
				state = stSel
				if tok.Kind == lexer.Name {
					if err := field(pending); err != nil {
						return err
					}
					continue
				}
			case stSkipName:
				state = stSel
				if tok.Kind == lexer.Name {
					continue
				}
			case stSpread:
				state = stSel
				if tok.Kind == lexer.Name {
					if tok.Value == "on" {
						state = stTypeCond
						continue
					}
					if len(c.spreads) >= l.MaxSpreads {
						return errSpreads(l)
					}
					lv := c.levels[depth-1]
					c.items = append(c.items, item{kind: itSpread, h: uint64(len(c.spreads))})
					c.spreads = append(c.spreads, spread{target: tok.Value, depth: depth, top: lv.top, to: -1})
					c.defs[cur].spHi = len(c.spreads)
					inline = false
					continue
				}
				inline = true // `... @dir {` or `... {`
			case stTypeCond:
				state = stSel
				if tok.Kind == lexer.Name {
					inline = true
					continue
				}
			}
		}

		switch tok.Kind {
		case lexer.At:
			directives++
			if directives > l.MaxDirectives {
				return errDirectives(l)
			}
			if depth > 0 && parens == 0 {
				state = stSkipName
			}
			continue
		case lexer.ParenL:
			parens++
			continue
		case lexer.ParenR:
			if parens > 0 {
				parens--
			}
			if parens == 0 {
				inputDepth = 0
			}
			continue
		}

		if parens > 0 {
			// Argument lists, variable definitions and directive
			// arguments: braces and brackets are values, never selections.
			switch tok.Kind {
			case lexer.BraceL, lexer.BracketL:
				inputDepth++
				if inputDepth > l.MaxInputDepth {
					return errInputDepth(l)
				}
			case lexer.BraceR, lexer.BracketR:
				if inputDepth > 0 {
					inputDepth--
				}
			}
			continue
		}

		if depth == 0 {
			switch tok.Kind {
			case lexer.Name:
				switch header {
				case hdStart:
					if tok.Value == "fragment" {
						fragments++
						if fragments > l.MaxFragments {
							return errFragments(l)
						}
						header = hdFragName
					} else {
						header = hdOp
					}
				case hdFragName:
					fragName = tok.Value
					header = hdFrag
				}
			case lexer.BraceL:
				frag := header == hdFragName || header == hdFrag
				name := ""
				if frag {
					name = fragName
				}
				n := len(c.items)
				c.defs = append(c.defs, def{name: name, frag: frag, depth: 1,
					spLo: len(c.spreads), spHi: len(c.spreads), itLo: n, itHi: n})
				cur = len(c.defs) - 1
				serial++
				c.levels = append(c.levels, level{set: serial, top: true})
				state, inline, fragName = stSel, false, ""
			}
			continue
		}

		// Selection level.
		switch tok.Kind {
		case lexer.Name:
			pending = tok.Value
			state = stAfterName
		case lexer.Spread:
			state = stSpread
		case lexer.BraceL:
			if depth+1 > l.MaxDepth {
				return errDepth(l)
			}
			parent := c.levels[depth-1]
			serial++
			next := level{set: serial}
			kind := uint8(itOpen)
			if inline {
				next.top, kind = parent.top, itOpenInline
			}
			inline = false
			c.levels = append(c.levels, next)
			c.items = append(c.items, item{kind: kind})
			if d := &c.defs[cur]; depth+1 > d.depth {
				d.depth = depth + 1
			}
		case lexer.BraceR:
			c.levels = c.levels[:depth-1]
			inline = false
			if depth == 1 {
				header = hdStart
				c.defs[cur].itHi = len(c.items)
			} else {
				c.items = append(c.items, item{kind: itClose})
			}
		}
	}
	// A pending field at EOF means unbalanced braces: the parser fails.
	if cur >= 0 && len(c.levels) > 0 {
		c.defs[cur].itHi = len(c.items)
	}

	if len(c.spreads) > 0 {
		if err := c.expand(l); err != nil {
			return err
		}
	}
	return c.walk(l)
}

func rootPath(def int) uint64 { return mix(0x5bd1e9955bd1e995, uint64(def)) }

// expand checks the limits that count fragments where they are spread:
// depth and root fields through spreads, and spreads with every fragment
// expanded. Memoised over the fragment graph, so it is linear in
// definitions plus spreads; cycles (which the validator rejects) are cut.
func (c *checker) expand(l *Limits) *apperr.Error {
	for i := range c.spreads {
		sp := &c.spreads[i]
		for j := range c.defs {
			if c.defs[j].frag && c.defs[j].name == sp.target {
				sp.to = j
				break
			}
		}
	}
	total := 0
	for i := range c.defs {
		c.visit(i)
		d := &c.defs[i]
		if d.xDeep > l.MaxDepth {
			return errDepth(l)
		}
		if d.frag {
			if d.xSpreads > l.MaxSpreads {
				return errSpreads(l)
			}
			continue
		}
		total = satAdd(total, d.xSpreads)
		if total > l.MaxSpreads {
			return errSpreads(l)
		}
		if d.xTop > l.MaxRootFields {
			return errRootFields(l)
		}
	}
	return nil
}

func (c *checker) visit(i int) {
	d := &c.defs[i]
	if d.state != 0 {
		return
	}
	d.state = 1
	xs, deep, top := 0, d.depth, d.topFields
	for k := d.spLo; k < d.spHi; k++ {
		sp := c.spreads[k]
		xs = satAdd(xs, 1)
		if sp.to < 0 {
			continue
		}
		c.visit(sp.to)
		t := &c.defs[sp.to]
		if t.state != 2 {
			continue // a cycle: the validator refuses it
		}
		xs = satAdd(xs, t.xSpreads)
		if dd := satAdd(sp.depth, t.xDeep) - 1; dd > deep {
			deep = dd
		}
		if sp.top {
			top = satAdd(top, t.xTop)
		}
	}
	d.xSpreads, d.xDeep, d.xTop, d.state = xs, deep, top, 2
}

// walk replays every operation with its fragments expanded where they are
// spread and charges the overlap cost: the rule compares fields brought
// together by spreads just as it compares fields written side by side, and
// compares fragments spread at one path with each other. Without spreads
// it is a replay of the scan; it runs after the scan so that each field is
// charged once, and the scan has bounded the document by then. A fragment
// already expanded at a path is not expanded there again (the validator
// skips a fragment compared with itself). Fragments no operation reaches
// are walked on their own, as the validator validates them. Every step
// counts towards a bound of 4×MaxExpandedFields, so the walk is bounded
// even for documents (such as empty selection sets) the parser refuses.
func (c *checker) walk(l *Limits) *apperr.Error {
	for i := range c.defs {
		if !c.defs[i].frag {
			if err := c.walkDef(l, i, rootPath(i), false); err != nil {
				return err
			}
		}
	}
	for i := range c.defs {
		if c.defs[i].frag && !c.defs[i].reached {
			if err := c.walkDef(l, i, rootPath(i), false); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *checker) step(l *Limits) *apperr.Error {
	c.work++
	if c.work > 4*l.MaxExpandedFields {
		return errExpandedFields(l)
	}
	return nil
}

func (c *checker) walkDef(l *Limits, di int, path uint64, expanded bool) *apperr.Error {
	d := &c.defs[di]
	d.reached, d.onStack = true, true
	base := len(c.frames)
	cur, last := frame{path: path}, path
	for _, it := range c.items[d.itLo:d.itHi] {
		if err := c.step(l); err != nil {
			return err
		}
		switch it.kind {
		case itField:
			if expanded {
				c.fields++
				if c.fields > l.MaxExpandedFields {
					return errExpandedFields(l)
				}
			}
			var err *apperr.Error
			if last, err = c.field(l, cur.path, it.h, cur.inl, cur.pinl); err != nil {
				return err
			}
		case itOpen:
			c.frames = append(c.frames, cur)
			cur = frame{path: last, pinl: cur.inl}
		case itOpenInline:
			c.frames = append(c.frames, cur)
			cur.inl++
		case itClose:
			if n := len(c.frames); n > base {
				cur = c.frames[n-1]
				c.frames = c.frames[:n-1]
			}
		case itSpread:
			if err := c.spread(l, int(c.spreads[it.h].to), cur.path); err != nil {
				return err
			}
		}
	}
	c.frames = c.frames[:base]
	d.onStack = false
	return nil
}

// spread expands fragment to at path p: the rule builds the fragment's
// fields for every spread, compares it with every other fragment spread at
// the same path (once per pair of names), then the fragment's own fields
// and spreads take part in p's comparisons.
func (c *checker) spread(l *Limits, to int, p uint64) *apperr.Error {
	if to < 0 || c.defs[to].onStack {
		return nil
	}
	size := c.defs[to].topFields
	c.cost += size
	if c.cost > l.MaxOverlapCost {
		return errOverlapCost(l)
	}
	if c.seen.inc(mix(p^saltMet, uint64(to))) > 1 {
		return nil
	}
	head := c.seen.ref(p ^ saltHeads)
	prev := int32(*head) - 1
	c.mets = append(c.mets, met{frag: to, next: prev})
	*head = uint32(len(c.mets))
	for e := prev; e >= 0; e = c.mets[e].next {
		if err := c.step(l); err != nil {
			return err
		}
		f := c.mets[e].frag
		a, b := min(f, to), max(f, to)
		if c.seen.inc(mix(uint64(a)^saltPair, uint64(b))) == 1 {
			c.cost += fragmentPairCost + size + c.defs[f].topFields
		}
	}
	if c.cost > l.MaxOverlapCost {
		return errOverlapCost(l)
	}
	return c.walkDef(l, to, p, true)
}

func satAdd(a, b int) int {
	if s := a + b; s < unlimited {
		return s
	}
	return unlimited
}

// mix combines a parent path with a key hash. Inputs are keyed by seed, so
// collisions are chance (2^-64), not choice.
func mix(a, b uint64) uint64 {
	x := a*0x9e3779b97f4a7c15 ^ b
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 29
	return x
}

// table maps 64-bit keys to counts: open addressing, linear probing, kept
// at most half full. Key 0 marks an empty slot.
type table struct {
	keys []uint64
	vals []uint32
	used int
}

func newTable(n int) table {
	return table{keys: make([]uint64, n), vals: make([]uint32, n)}
}

func (t *table) reset() {
	if t.used > 0 {
		clear(t.keys)
		clear(t.vals)
		t.used = 0
	}
}

func (t *table) shrinkOrReset(n int) {
	if len(t.keys) > 8*n {
		*t = newTable(n)
		return
	}
	t.reset()
}

// get returns k's value, 0 if absent.
func (t *table) get(k uint64) int {
	if k == 0 {
		k = 1
	}
	mask := uint64(len(t.keys) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch t.keys[i] {
		case k:
			return int(t.vals[i])
		case 0:
			return 0
		}
	}
}

// ref returns k's value slot, inserting 0; valid until the next insert.
func (t *table) ref(k uint64) *uint32 {
	if k == 0 {
		k = 1
	}
	if 2*(t.used+1) > len(t.keys) {
		t.grow()
	}
	mask := uint64(len(t.keys) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch t.keys[i] {
		case k:
			return &t.vals[i]
		case 0:
			t.keys[i] = k
			t.used++
			return &t.vals[i]
		}
	}
}

// inc adds one to k's value and returns it.
func (t *table) inc(k uint64) int {
	v := t.ref(k)
	*v++
	return int(*v)
}

func (t *table) grow() {
	old := *t
	*t = newTable(2 * len(old.keys))
	mask := uint64(len(t.keys) - 1)
	for j, k := range old.keys {
		if k == 0 {
			continue
		}
		i := k & mask
		for t.keys[i] != 0 {
			i = (i + 1) & mask
		}
		t.keys[i], t.vals[i] = k, old.vals[j]
		t.used++
	}
}
