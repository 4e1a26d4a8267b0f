package steps

// VMPhase returns the VM steps in order: from the preflight checks to
// running clones whose Guest Additions answer.
func VMPhase() []Step {
	return []Step{Preflight(), LabNetwork(), BaseSnapshot(), CloneVMs(), ConfigureVMs(), StartVMs(), WaitGuests()}
}

// GuestAccess returns the steps that give each clone its own identity and
// address and open SSH (through guest control), then name resolution. The
// lab's addresses are probed first, before any node takes one.
func GuestAccess() []Step {
	return []Step{AddressProbe(), FreshIdentity(), GuestNetwork(), SSHAccess(), WaitSSH(), HostsFile()}
}

// Services returns the service steps, over SSH. SELinux comes after the
// packages (semanage may come with them) and before any daemon needs its
// port labels or booleans.
func Services() []Step {
	return []Step{
		Firewall(), Packages(), SELinux(),
		MySQLConfig(), GroupReplication(), Keepalived(), WordPressDB(),
		Web(), LoadBalancer(), WordPressInstall(), Verify(),
	}
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
