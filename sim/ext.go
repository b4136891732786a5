package main

// install adds the vsr extensions to every host, VM and portgroup, and vCenter's key provider manager.
func (s *Sim) install() error {
	s.installHosts()
	s.installAccounts()
	s.installVnics()
	s.installIscsi()
	s.installEsxcli()
	s.installMaintenance()
	s.installClusters() // cluster.go
	s.installVMs()
	s.installDVPGs()
	s.installKMS()
	s.installVCenter() // vcenter.go
	return s.installGuests()
}
