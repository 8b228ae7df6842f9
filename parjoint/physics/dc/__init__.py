"""DC resistivity and induced polarization: P1/P2 finite elements on the earth cells."""
