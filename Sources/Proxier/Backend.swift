import NFTables
import Netfilter

extension NFTablesConnection: RulesetBackend {}
