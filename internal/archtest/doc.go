// Package archtest holds tests of the tree's structure (house rule 0): the
// GraphQL layer and the command bind no storage types, and every table is
// written by exactly one package. It has no code of its own.
package archtest
