"""dbbench across hosts: a database host, an application host and a load host, placed by Ansible.

Ansible does placement and transport (reaching each host over SSH with keys, copying the
checkout, running its bootstrap, starting and stopping processes, fetching files); all
measuring stays in dbbench. The inventory (inventory.py) names the hosts of the groups `db`,
`app` and `load`; one host may be in several.
"""
