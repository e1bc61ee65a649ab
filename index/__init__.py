"""forkwise.index: everything that reads git or a forge and produces facts and documents."""
