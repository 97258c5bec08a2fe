"""libvirt: which domain NIC is which port (discovery + events), and libvirt's own
bandwidth settings for hosts whose kernel can carry them. See backends/libvirt.py."""
