public enum KVClientPlaceholder {}
