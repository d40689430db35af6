package ksrc

import "fmt"

// EntryError reports an archive entry that Unpack refuses: a name or link
// target that leaves the tree, an entry below a symbolic link, an entry that
// would replace a directory, a sparse file or an unsupported entry type.
type EntryError struct {
	// Entry is the entry's name as given in the archive.
	Entry string
	// Reason says why the entry is refused.
	Reason string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("entry %q refused: %s", e.Entry, e.Reason)
}

// LimitError reports an archive that exceeds a bound of [UnpackOptions].
type LimitError struct {
	// Limit names the bound: "MaxBytes" or "MaxEntries".
	Limit string
	// Max is the bound's value.
	Max int64
	// Entry is the name of the entry that went over it.
	Entry string
}

func (e *LimitError) Error() string {
	unit := "bytes"
	if e.Limit == "MaxEntries" {
		unit = "entries"
	}
	return fmt.Sprintf("entry %q exceeds the limit of %d %s (UnpackOptions.%s)", e.Entry, e.Max, unit, e.Limit)
}

// CorruptError reports a damaged archive: a compressed stream that fails its
// checksum or ends early, a tar stream without its end-of-archive marker, or
// data after it that is not zero padding.
type CorruptError struct {
	// Err is the decoder's error or a description of the damage.
	Err error
}

func (e *CorruptError) Error() string { return "damaged archive: " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *CorruptError) Unwrap() error { return e.Err }
