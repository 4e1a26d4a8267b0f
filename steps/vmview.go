package steps

// The VM steps: the lab's six VMs as VirtualBox objects, up to the point
// where guest control answers. They act through env.VBox only.
//
// clone-vms lists the VMs once, then reads each node's lab tag; writes a
// linked clone of the base snapshot into group /labctl/<lab>, then at once
// the tags labctl/lab and labctl/node, so a half-built lab is still
// recognisably ours.
// configure-vms reads every lab VM's nic1/CPUs/memory/group (and the base's
// MAC) at once, and each node tag; writes the node tag, then nic1 bridged
// with a fresh unique MAC, CPUs, memory and group, on a powered-off VM.
// start-vms reads the VM state; starts it headless.
// wait-guests reads GuestAdditionsRunLevel until it reaches 2.
//
// Every VBoxManage call is a process, so independent reads run at once, and
// a node's Apply uses what its Check read a moment before (vmView, below)
// instead of reading it again. Every Check, including the
// Runner's re-check after Apply, reads the live VM. Which VMs are the lab's
// is package fleet's rule.
//
// This file holds the VM steps' per-run reads: what a step's Prepare or Check read of a VM,
// handed to the Check or Apply right after it, once.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"labctl/vbox"
)

// vmView memoises one VM's showvminfo and extradata reads for the span of
// one node's Check and the Apply right after it (the Runner runs them back
// to back), so Apply does not re-read what its Check just read. Only
// definitive answers are kept: the VM (or its absence) and tag values.
type vmView struct {
	api vbox.API
	vm  string

	mu      sync.Mutex
	infoOK  bool
	info    *vbox.VMInfo
	infoErr error // nil or vbox.ErrNotFound
	present bool  // listed by this run's `list vms` (Info not read yet)
	tags    map[string]string
}

func newVMView(env *Env, vm string) *vmView {
	return &vmView{api: env.VBox, vm: vm, tags: map[string]string{}}
}

// Info is the VM's showvminfo, read once.
func (v *vmView) Info(ctx context.Context) (*vbox.VMInfo, error) {
	v.mu.Lock()
	if v.infoOK {
		defer v.mu.Unlock()
		return v.info, v.infoErr
	}
	v.mu.Unlock()
	info, err := v.api.Info(ctx, v.vm)
	if err == nil || errors.Is(err, vbox.ErrNotFound) {
		v.mu.Lock()
		v.infoOK, v.info, v.infoErr = true, info, err
		v.mu.Unlock()
	}
	return info, err
}

// absent records that the VM does not exist (read by the caller from a
// live `list vms` of this run).
func (v *vmView) absent() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.infoOK, v.info = true, nil
	v.infoErr = fmt.Errorf("%w: no VM named %s in `VBoxManage list vms`", vbox.ErrNotFound, v.vm)
}

// Tag is one extradata value of the VM, read once.
func (v *vmView) Tag(ctx context.Context, key string) (string, error) {
	v.mu.Lock()
	if val, ok := v.tags[key]; ok {
		v.mu.Unlock()
		return val, nil
	}
	v.mu.Unlock()
	val, err := v.api.GetExtraData(ctx, v.vm, key)
	if err == nil {
		v.mu.Lock()
		v.tags[key] = val
		v.mu.Unlock()
	}
	return val, err
}

// exists says whether the VM exists: known from this run's `list vms`, or
// read with showvminfo.
func (v *vmView) exists(ctx context.Context) (bool, error) {
	v.mu.Lock()
	present := v.present
	v.mu.Unlock()
	if present {
		return true, nil
	}
	_, err := v.Info(ctx)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, vbox.ErrNotFound):
		return false, nil
	}
	return false, err
}

// existsAndTag is exists and one tag (what names it in errors). Unless
// this run already knows whether the VM exists, the tag read alone tells:
// getextradata fails with "not found" for a missing VM. tag is "" when the
// VM does not exist. Errors name the VM and the read that failed.
func (v *vmView) existsAndTag(ctx context.Context, key, what string) (exists bool, tag string, err error) {
	v.mu.Lock()
	known := v.present || v.infoOK
	v.mu.Unlock()
	if known {
		if exists, err = v.exists(ctx); err != nil {
			return false, "", fmt.Errorf("read %s: %w", v.vm, err)
		}
		if !exists {
			return false, "", nil
		}
	}
	tag, err = v.Tag(ctx, key)
	switch {
	case err == nil:
		v.mu.Lock()
		v.present = v.present || !v.infoOK
		v.mu.Unlock()
		return true, tag, nil
	case !known && errors.Is(err, vbox.ErrNotFound):
		v.mu.Lock()
		v.infoOK, v.info, v.infoErr = true, nil, err
		v.mu.Unlock()
		return false, "", nil
	}
	return false, "", fmt.Errorf("read the %s of %s: %w", what, v.vm, err)
}

// infoAndTag is Info and one tag (what names it in errors), read at once
// when neither is known yet.
func (v *vmView) infoAndTag(ctx context.Context, key, what string) (*vbox.VMInfo, string, error) {
	var (
		tag    string
		tagErr error
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		tag, tagErr = v.Tag(ctx, key)
	}()
	info, err := v.Info(ctx)
	<-done
	switch {
	case err != nil:
		return nil, "", fmt.Errorf("read %s: %w", v.vm, err)
	case tagErr != nil:
		return nil, "", fmt.Errorf("read the %s of %s: %w", what, v.vm, tagErr)
	}
	return info, tag, nil
}

// vmViews hands views from a step's Prepare to its first Check of a node,
// and from a Check to the Apply after it. Each hand-over happens once: a
// view is taken out when used, so the Runner's re-check after Apply (and
// any later step) finds none and reads the live VM. Any mutating call on a
// VM drops every view of it. The run owns it: Runner.Run puts a fresh one
// in its own copy of the Env, so nothing outlives the run. Without one (a
// step driven outside a Runner) every read is live.
type vmViews struct {
	mu       sync.Mutex
	prepared map[string]*vmView // "step\x00vm" → read by Prepare, for the first Check
	checked  map[string]*vmView // "step\x00vm" → read by Check, for the Apply after it
	// settled: showvminfo of a VM read by a step after configure-vms, for
	// what no later step of the run changes (UUID, nic1 MAC): vmSettled.
	settled map[string]*vbox.VMInfo
}

func newVMViews() *vmViews {
	return &vmViews{prepared: map[string]*vmView{}, checked: map[string]*vmView{}, settled: map[string]*vbox.VMInfo{}}
}

// vmSettled reads a VM's showvminfo for its UUID and nic1 MAC, once per
// run: the guest-access steps all need them, and after configure-vms
// nothing in the run changes them. Its VM state is not to be read from it.
func (e *Env) vmSettled(ctx context.Context, vm string) (*vbox.VMInfo, error) {
	vs := e.vmViews
	if vs == nil {
		return e.VBox.Info(ctx, vm)
	}
	vs.mu.Lock()
	info := vs.settled[vm]
	vs.mu.Unlock()
	if info != nil {
		return info, nil
	}
	info, err := e.VBox.Info(ctx, vm)
	if err != nil {
		return nil, err
	}
	vs.mu.Lock()
	vs.settled[vm] = info
	vs.mu.Unlock()
	return info, nil
}

func viewKey(step, vm string) string { return step + "\x00" + vm }

// prepareViews replaces the views a step's Prepare read (vm → view).
func (e *Env) prepareViews(step string, views map[string]*vmView) {
	vs := e.vmViews
	if vs == nil {
		return
	}
	vs.mu.Lock()
	defer vs.mu.Unlock()
	for k := range vs.prepared {
		if strings.HasPrefix(k, step+"\x00") {
			delete(vs.prepared, k)
		}
	}
	for vm, v := range views {
		vs.prepared[viewKey(step, vm)] = v
	}
}

// checkView is the view a Check reads through: its Prepare's (taken), or a
// fresh one. It is kept for the Apply that may follow.
func (e *Env) checkView(step, vm string) *vmView {
	return e.takeView(step, vm, func(vs *vmViews) (from, keep map[string]*vmView) { return vs.prepared, vs.checked })
}

// applyView is the view an Apply reads through: its Check's (taken), or a
// fresh one.
func (e *Env) applyView(step, vm string) *vmView {
	return e.takeView(step, vm, func(vs *vmViews) (from, keep map[string]*vmView) { return vs.checked, nil })
}

// takeView takes step's view of vm out of one stage's map (a fresh view when
// there is none, or no run owns the cache) and, when keep is set, hands it
// to the next stage.
func (e *Env) takeView(step, vm string, stage func(*vmViews) (from, keep map[string]*vmView)) *vmView {
	vs := e.vmViews
	if vs == nil {
		return newVMView(e, vm)
	}
	vs.mu.Lock()
	defer vs.mu.Unlock()
	from, keep := stage(vs)
	k := viewKey(step, vm)
	v := from[k]
	delete(from, k)
	if v == nil {
		v = newVMView(e, vm)
	}
	if keep != nil {
		keep[k] = v
	}
	return v
}

// changedVM drops every view of vm: called after each mutating call on it.
func (e *Env) changedVM(vm string) {
	vs := e.vmViews
	if vs == nil {
		return
	}
	vs.mu.Lock()
	defer vs.mu.Unlock()
	suffix := "\x00" + vm
	for _, m := range []map[string]*vmView{vs.prepared, vs.checked} {
		for k := range m {
			if strings.HasSuffix(k, suffix) {
				delete(m, k)
			}
		}
	}
}

// viewedAPI answers Info for the view's VM from the view (what this node's
// Check just read), and everything else from the API.
type viewedAPI struct {
	vbox.API
	v *vmView
}

func (a viewedAPI) Info(ctx context.Context, vm string) (*vbox.VMInfo, error) {
	if vm == a.v.vm {
		return a.v.Info(ctx)
	}
	return a.API.Info(ctx, vm)
}
