package mockserver

// familyRec is a family in families.recs.
type familyRec struct {
	rnd   [famIDLen + subjectLen]byte // the random id, then subject
	flags uint8
	// tokens counts the family's stored tokens; in a free record it links
	// the free list (the next free family + 1).
	tokens uint32
	// live is the slot + 1 of the family's token that was not rotated,
	// while it is stored (0: none).
	live uint32
}

const (
	famRevoked uint8 = 1 << iota
	famNamed         // id or subject in families.names
)

// famNames are the id and subject a family was given (empty: formatted
// from its random bytes).
type famNames struct{ id, subject string }

// families are the token families, in records without pointers reused
// through a free list. Only families whose id or subject was given (the
// seed's, a subject asked of issue) keep strings, in a small side map; ids
// are formatted from the random bytes when asked for.
type families struct {
	recs  []familyRec
	free  uint32 // first free family + 1; 0: none
	n     int
	names map[uint32]famNames
}

func (fs *families) reset() {
	fs.recs = fs.recs[:0]
	fs.free = 0
	fs.n = 0
	fs.names = map[uint32]famNames{}
}

// add starts a family. Its id and subject are the ones given, else
// formatted from rnd (famIDLen + subjectLen random bytes).
func (fs *families) add(rnd []byte, id, subject string) uint32 {
	var fi uint32
	if fs.free != 0 {
		fi = fs.free - 1
		fs.free = fs.recs[fi].tokens
	} else {
		if len(fs.recs) == cap(fs.recs) {
			// At most maxTokens+1 families live: the new token's, before
			// the token it replaces (perhaps the last of its family) goes.
			fs.recs = grow(fs.recs, maxTokens+1)
		}
		fi = uint32(len(fs.recs))
		fs.recs = fs.recs[:fi+1]
	}
	f := familyRec{}
	copy(f.rnd[:], rnd)
	if id != "" || subject != "" {
		f.flags |= famNamed
		fs.names[fi] = famNames{id: id, subject: subject}
	}
	fs.recs[fi] = f
	fs.n++
	return fi
}

// release drops one token of family fi and frees the family with its last
// token.
func (fs *families) release(fi uint32) {
	f := &fs.recs[fi]
	f.tokens--
	if f.tokens > 0 {
		return
	}
	if f.flags&famNamed != 0 {
		delete(fs.names, fi)
	}
	*f = familyRec{tokens: fs.free}
	fs.free = fi + 1
	fs.n--
}

// ids returns family fi's id and subject with one allocation.
func (fs *families) ids(fi uint32) (id, subject string) {
	f := &fs.recs[fi]
	var names famNames
	if f.flags&famNamed != 0 {
		names = fs.names[fi]
	}
	var buf [famStrLen + subjectStrLen]byte
	b := buf[:0]
	if names.id == "" {
		b = appendFamilyID(b, f)
	}
	cut := len(b)
	if names.subject == "" {
		b = append(b, subjectPrefix...)
		b = b64.AppendEncode(b, f.rnd[famIDLen:])
	}
	s := string(b)
	id, subject = names.id, names.subject
	if id == "" {
		id = s[:cut]
	}
	if subject == "" {
		subject = s[cut:]
	}
	return id, subject
}

// id returns family fi's id.
func (fs *families) id(fi uint32) string {
	f := &fs.recs[fi]
	if f.flags&famNamed != 0 {
		if id := fs.names[fi].id; id != "" {
			return id
		}
	}
	var buf [famStrLen]byte
	return string(appendFamilyID(buf[:0], f))
}

func appendFamilyID(b []byte, f *familyRec) []byte {
	b = append(b, famPrefix...)
	return b64.AppendEncode(b, f.rnd[:famIDLen])
}
