package main

// install adds the vsr extensions to every host, VM and portgroup.
func (s *Sim) install() error {
	s.installHosts()
	return nil
}

// applyDrift puts part of the estate into an insecure state.
func (s *Sim) applyDrift() {}
