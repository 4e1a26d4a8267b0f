package lab

// Secrets are generated once per lab (crypto/rand) and kept 0600 in the
// state folder. They travel to guests only on stdin or in 0600 files.
type Secrets struct {
	MySQLRoot      string // root@localhost on the db nodes (socket auth is also kept)
	Replication    string // GR recovery user
	Verifier       string // keepalived check + labctl verify user
	WordPressDB    string // WordPress's MySQL user
	WordPressAdmin string // WordPress admin account
	GroupName      string // group_replication_group_name (a UUID; not secret, but lab-unique and stable)
	// WordPress keys and salts, by constant name (AUTH_KEY, ...), generated locally.
	WPSalts map[string]string
}

// Values returns every secret value, for redaction.
func (s *Secrets) Values() []string {
	if s == nil {
		return nil
	}
	out := []string{s.MySQLRoot, s.Replication, s.Verifier, s.WordPressDB, s.WordPressAdmin}
	for _, v := range s.WPSalts {
		out = append(out, v)
	}
	var nonEmpty []string
	for _, v := range out {
		if v != "" {
			nonEmpty = append(nonEmpty, v)
		}
	}
	return nonEmpty
}
