"""The logic behind the GraphQL fields: context, loaders, queries, mutations, subscriptions."""
