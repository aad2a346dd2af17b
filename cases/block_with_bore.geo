// Gmsh script of cases/block_with_bore.msh (gmsh block_with_bore.geo -3): steel block
// 300 x 100 x 100 mm with a bore of radius 25 mm along z through its
// middle; physical surfaces "clamp" (x = 0), "load" (x = 0.3), the rest "free".
SetFactory("OpenCASCADE");
Box(1) = {0, 0, 0, 0.3, 0.1, 0.1};
Cylinder(2) = {0.15, 0.05, 0, 0, 0, 0.1, 0.025};
BooleanDifference(3) = { Volume{1}; Delete; }{ Volume{2}; Delete; };
eps = 1e-6;
clamp() = Surface In BoundingBox{-eps, -eps, -eps, eps, 0.1 + eps, 0.1 + eps};
load() = Surface In BoundingBox{0.3 - eps, -eps, -eps, 0.3 + eps, 0.1 + eps, 0.1 + eps};
all() = Boundary{ Volume{3}; };
free() = all();
free() -= clamp();
free() -= load();
Physical Surface("clamp") = {clamp()};
Physical Surface("load") = {load()};
Physical Surface("free") = {free()};
Physical Volume("steel") = {3};
Mesh.MeshSizeMax = 0.02;
Mesh.MeshSizeMin = 0.02;
Mesh.MshFileVersion = 2.2;
