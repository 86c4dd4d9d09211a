// Package synclog is the read side of the HelpScout log: it checks what
// clients ask for (filters, ranges, page arguments), turns it into store
// queries, and shapes the answers into connections and summaries. The
// GraphQL resolvers and the CSV export both go through it, so that a filter
// means the same everywhere.
package synclog
