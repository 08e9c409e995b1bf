import Testing
@testable import NFTables
