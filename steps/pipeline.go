package steps

// VMPhase returns the VM steps in order: from the preflight checks to
// running clones whose Guest Additions answer.
func VMPhase() []Step {
	return []Step{NewPreflight(), NewBaseSnapshot(), NewCloneVMs(), NewConfigureVMs(), NewStartVMs(), NewWaitGuests()}
}

// GuestAccess returns the steps that give each clone its own identity and
// network and open SSH, all through guest control.
func GuestAccess() []Step {
	return []Step{FreshIdentity(), GuestNetwork(), SSHAccess(), WaitSSH()}
	// TODO(lead): HostsFile() once steps/hostsfile.go exists.
}

// Services returns the service steps, over SSH.
func Services() []Step {
	return []Step{MySQLConfig(), GroupReplication()}
	// TODO(lead): Firewall(), Packages() before MySQLConfig; Keepalived(),
	// WordPressDB(), Web(), LoadBalancer(), WordPressInstall(), Verify() after
	// GroupReplication, as their files appear.
}

// Pipeline returns every step of `labctl up`, in order. A fresh value on
// every call: steps may keep per-run state.
func Pipeline() []Step {
	var out []Step
	out = append(out, VMPhase()...)
	out = append(out, GuestAccess()...)
	out = append(out, Services()...)
	return out
}
