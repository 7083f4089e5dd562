export const fromPublic = 1;
