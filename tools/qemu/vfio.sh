# SPDX-License-Identifier: GPL-2.0
#
# L1's side of a device assigned to L2 with VFIO, for the scripts that run
# in a test VM booted with VM_VFIO=1 (vm/run-vm.sh: q35, an emulated Intel
# IOMMU with interrupt remapping, the NIC to assign at 00:04.0 and L1's
# own NIC at 00:05.0, on one QEMU hub in L0): l1.sh (check-qemu's
# ":vfio" runs) and vfio-l1.sh (tools/qemu/vfio-try.sh). Sourced after
# tap.sh, whose check() prints the TAP lines.

vfio_bdf=0000:00:04.0
vfio_own=0000:00:05.0

# 1. The IOMMU is on in L1, with interrupt remapping (vfio_iommu_type1
# refuses an IOMMU without it). The messages are Linux 6.1's intel-iommu
# and DMAR-IR. PREFIX starts each check's name.
vfio_l1_iommu() { # vfio_l1_iommu PREFIX
	dmesg | grep -E 'DMAR|IOMMU|iommu|remapping' | head -n 20 | sed 's/^/# dmesg: /'
	v_n=$(ls /sys/kernel/iommu_groups | wc -l)
	check "${1}IOMMU groups in L1" "$v_n groups" [ "$v_n" -gt 0 ]
	check "${1}interrupt remapping on" \
		"$(dmesg | grep -o 'Enabled IRQ remapping in [a-z0-9]* mode' | head -n 1)" \
		sh -c "dmesg | grep -q 'Enabled IRQ remapping'"
	for v_d in /sys/bus/pci/devices/*; do
		v_g=-
		[ -e "$v_d/iommu_group" ] && v_g=$(basename "$(readlink "$v_d/iommu_group")")
		v_drv=-
		[ -e "$v_d/driver" ] && v_drv=$(basename "$(readlink "$v_d/driver")")
		echo "# ${v_d##*/} $(cat "$v_d/vendor"):$(cat "$v_d/device") group $v_g driver $v_drv"
	done
}

# 2. The NIC at $vfio_bdf to vfio-pci: it must be alone in its group (a
# group is assigned whole), unbound from any driver (L1's virtio_pci takes
# a virtio one at boot), then bound through driver_override. Fails (1)
# when /dev/vfio/<group> is not there at the end.
vfio_l1_bind() { # vfio_l1_bind PREFIX
	v_dev=/sys/bus/pci/devices/$vfio_bdf
	if [ ! -e "$v_dev" ]; then
		notok "${1}NIC at $vfio_bdf # absent: boot the test VM with VM_VFIO=1"
		return 1
	fi
	v_grp=$(basename "$(readlink "$v_dev/iommu_group" 2>/dev/null)" 2>/dev/null)
	v_members=$(ls "/sys/kernel/iommu_groups/$v_grp/devices" 2>/dev/null | tr '\n' ' ')
	check "${1}NIC $vfio_bdf ($(cat "$v_dev/vendor"):$(cat "$v_dev/device")) alone in its group" \
		"group ${v_grp:-none}: $v_members" [ "$v_members" = "$vfio_bdf " ]
	[ -e "$v_dev/driver" ] && echo "$vfio_bdf" >"$v_dev/driver/unbind"
	echo vfio-pci >"$v_dev/driver_override"
	echo "$vfio_bdf" >/sys/bus/pci/drivers_probe
	v_drv=$(basename "$(readlink "$v_dev/driver" 2>/dev/null)" 2>/dev/null)
	check "${1}NIC bound to vfio-pci" "driver ${v_drv:-none}" [ "$v_drv" = vfio-pci ]
	check "${1}/dev/vfio/$v_grp appears" "$(ls /dev/vfio | tr '\n' ' ')" [ -c "/dev/vfio/$v_grp" ]
	dmesg | grep -E 'vfio' | sed 's/^/# dmesg: /'
	[ -c "/dev/vfio/$v_grp" ]
}

# L1's end of the assigned NIC's wire: its own virtio-net NIC at
# $vfio_own, given ADDRESS/PREFIX. Fails (1) without that NIC.
vfio_l1_wire() { # vfio_l1_wire PREFIX ADDRESS/PREFIX
	v_ifc=$(ls "/sys/bus/pci/devices/$vfio_own"/virtio*/net 2>/dev/null | head -n 1)
	check "${1}L1's own NIC ($vfio_own)" "${v_ifc:-none}" [ -n "$v_ifc" ]
	[ -n "$v_ifc" ] || return 1
	ip addr add "$2" dev "$v_ifc"
	ip link set "$v_ifc" up
}

# The QEMU trace events of VFIO's side: what QEMU's virtio-iommu notified
# (each MAP and UNMAP of an endpoint with IOMMU notifiers, VFIO's among
# them) and what VFIO's listener made of it (VFIO_IOMMU_MAP_DMA or
# UNMAP_DMA on the container). With vhost=on (patch 0007) the guest's
# requests reach QEMU as report-channel records instead: the
# virtio_iommu_vhost_report* events.
vfio_events() {
	printf '%s\n' virtio_iommu_notify_map virtio_iommu_notify_unmap \
		vfio_iommu_map_notify vfio_listener_region_add_iommu \
		virtio_iommu_set_page_size_mask 'virtio_iommu_vhost_report*' \
		virtio_iommu_vhost_replay
}
# A count of trace lines matching an extended regex (0 without a file).
tcount() { # tcount REGEX FILE
	t_n=$(grep -cE "$1" "$2" 2>/dev/null)
	echo "${t_n:-0}"
}
