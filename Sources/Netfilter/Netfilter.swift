import NFTables
